"""The audit log as a clerk reads it: each row as one sentence in the page's language, with the
names of today (``app/services/governance/audit_names.py``, one query per kind of id for the
whole page), and its changes as a short list of 「項目: 前 → 後」.

One sentence per action of ``ACTIONS`` (``app/services/governance/audit.py``) in
``SENTENCES``; an action without one reads as its label and its object. The row's stored
values stay as they are, shown raw beside the sentence and in the CSV (docs/audit.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.admin.forms import AUDIT_TARGET_NAMES, AUDIT_TARGET_TYPES
from app.i18n import (
    is_english,
    localized_datetime,
    localized_fiscal_year_label,
    localized_list,
    localized_period,
    scene_label,
)
from app.models import AuditEvent
from app.services.governance.audit import ACTIONS
from app.services.governance.audit_names import (
    VALUE_KINDS,
    AuditNames,
    AuditRow,
    as_int,
    audit_names,
    group_target,
    read_rows,
    year_plan_target,
)
from app.services.operations.schedule import kind_label

# What the changed fields are called (the keys of the values that record() keeps).
FIELD_LABELS: dict[str, Any] = {
    "title": _l("題名"),
    "catalogue": _l("基準（カタログ）"),
    "fiscal_year": _l("年度"),
    "ward_ids": _l("対象の区"),
    "ward_id": _l("区"),
    "opens_at": _l("受付開始"),
    "closes_at": _l("締め切り"),
    "reminder_days": _l("催促の日（締め切りの何日前）"),
    "number": _l("番号（No.）"),
    "text": _l("基準の文"),
    "scene": _l("場面"),
    "audience": _l("回答する人"),
    "section_kinds": _l("課の種類"),
    "ward_specific": _l("区独自"),
    "key": _l("キー"),
    "published": _l("公開"),
    "standards": _l("基準の数"),
    "goals": _l("目標"),
    "goal": _l("内容"),
    "result": _l("実施結果"),
    "policy": _l("方針"),
    "summary": _l("総括"),
    "committee_name": _l("部会の名前"),
    "committee_members": _l("委員"),
    "name": _l("名前"),
    "purpose": _l("目的"),
    "members": _l("メンバー"),
    "locked": _l("確定"),
    "copied_from_previous_year": _l("前年度から写した"),
    "sign_in_blocked": _l("サインインの停止"),
    "role": _l("権限"),
    "expires": _l("有効期限"),
    "ends_on": _l("終わりの日"),
}
# What a retention purge counts (PurgeSummary's fields, in its order).
PURGE_LABELS: dict[str, Any] = {
    "people": _l("職員"),
    "responses": _l("回答（人ごと）"),
    "answers": _l("基準ごとの回答"),
    "comments": _l("コメント"),
    "section_answers": _l("課としての回答"),
    "mail": _l("メールの送信記録"),
    "login_attempts": _l("サインインの記録"),
    "grants": _l("付与された権限"),
}
ROLE_LABELS: dict[str, Any] = {"committee": _l("推進委員会"), "admin": _l("管理者")}
AUDIENCE_LABELS: dict[str, Any] = {
    "everyone": _l("全員（一人ひとり）"),
    "section": _l("所属長（課として）"),
}
FORMAT_LABELS: dict[str, Any] = {
    "xlsx": _l("Excel（xlsx）"),
    "csv": _l("CSV（報告書と同じ列）"),
    "csv-long": _l("CSV（基準・年度・区分ごとに1行、件数つき）"),
    "pdf": _l("PDF"),
    "html": _l("印刷用の表示"),
    "comments.xlsx": _l("コメントの Excel"),
    "city.xlsx": _l("市全体の Excel"),
}
DATE_FIELDS = frozenset({"opens_at", "closes_at", "expires"})
LONGEST_VALUE = 120  # characters of a value in the list; the raw values hold it all
NOTHING = "—"


@dataclass(frozen=True)
class Change:
    """One line of the list: a field and its value before and after; ``before`` None: a value
    that the row records (not a change), shown alone."""

    label: str
    before: str | None
    after: str


@dataclass(frozen=True)
class AuditEntry:
    """A row of the log as the page shows it."""

    event: AuditEvent
    sentence: str
    changes: tuple[Change, ...]
    notes: tuple[str, ...]  # lines the row keeps as they were written (a summary)


def _get(values: Any, key: str) -> Any:
    return values.get(key) if isinstance(values, dict) else None


def _by_id(kind: str, target_id: object) -> str:
    """An object by its kind and id, when there is nothing else to name it by."""
    if kind in AUDIT_TARGET_NAMES and target_id:
        return str(AUDIT_TARGET_NAMES[kind] % {"id": target_id})
    label = str(AUDIT_TARGET_TYPES.get(kind, kind))
    return f"{label} {target_id}" if target_id else label


class Words:
    """The names and values of one page's rows, in the page's language."""

    def __init__(self, names: AuditNames) -> None:
        self.names = names

    def person(self, person_id: object) -> str:
        """``長谷川 隆（900004）``; a person no longer on file: 「名簿から削除された人」."""
        found = self.names.people.get(as_int(person_id) or 0)
        if found is None:
            return _("名簿から削除された人")
        return _("%(name)s（%(employee_id)s）", name=found.name, employee_id=found.employee_id)

    def employee(self, employee_id: object) -> str:
        """A person by 職員番号: with the name when they are still on file."""
        name = self.names.employees.get(str(employee_id))
        if name is None:
            return _("職員番号 %(employee_id)s", employee_id=employee_id)
        return _("%(name)s（%(employee_id)s）", name=name, employee_id=employee_id)

    def actor(self, event: AuditEvent) -> str:
        """Who acted: the person, or the command line, or the scheduler."""
        if event.actor_id is None:
            if event.action.startswith("scheduler."):
                return _("自動処理")
            return _("管理用のコマンド")
        if as_int(event.actor_id) in self.names.people:
            return self.person(event.actor_id)
        if event.actor_employee_id:
            return self.employee(event.actor_employee_id)
        return _("名簿から削除された人")

    def round(self, row: AuditRow) -> str:
        """The round's title of today, else the one the row kept, else 「調査 3」."""
        title = self.names.rounds.get(as_int(row.event.target_id) or 0)
        title = title or _get(row.after, "title") or _get(row.before, "title")
        return str(title) if title else _by_id("round", row.event.target_id)

    def catalogue(self, key: object) -> str:
        """A catalogue's title; one no longer there by its key: 「基準（カタログ） t-2025」."""
        title = self.names.catalogues.get(str(key))
        return title if title is not None else _by_id("catalogue", key)

    def ward(self, ward_id: object) -> str:
        """A ward's name; none: 「全市」."""
        number = as_int(ward_id)
        if number is None:
            return _("全市")
        return self.names.wards.get(number, _("削除された区"))

    def group(self, key: object) -> str:
        """A results group (``ward:3``, ``section:7`` ...) by its name; ``all``: everyone."""
        found = group_target(key)
        if found is None:
            return _("全体")
        kind, number = found
        if kind == "ward":
            return self.ward(number)
        places = self.names.sections if kind == "section" else self.names.departments
        place = places.get(number)
        return f"{place.ward} {place.name}" if place else _("削除された課")

    def team(self, row: AuditRow) -> str:
        """A working team's name of today, else the one the row kept."""
        name = self.names.teams.get(as_int(row.event.target_id) or 0)
        name = name or _get(row.before, "name") or _get(row.after, "name")
        return str(name) if name else _("削除されたワーキングチーム")

    def section(self, section_id: object) -> str:
        """A section with its ward: ``高津区 総務課``."""
        place = self.names.sections.get(as_int(section_id) or 0)
        return f"{place.ward} {place.name}" if place else _("削除された課")

    def year(self, fiscal_year: object) -> str:
        number = as_int(fiscal_year)
        return localized_fiscal_year_label(number) if number is not None else NOTHING

    def value(self, key: str, value: Any) -> str:
        """A stored value under ``key`` as a person reads it (names for ids, dates, yes/no)."""
        if value is None or value == "" or value == []:
            return NOTHING
        kind = VALUE_KINDS.get(key)
        if isinstance(value, list):
            return localized_list([self.value(key, item) for item in value])
        if isinstance(value, bool):
            return _("はい") if value else _("いいえ")
        named: dict[str, Callable[[Any], str]] = {
            "ward": self.ward, "catalogue": self.catalogue, "employee": self.employee,
            "group": self.group,
        }  # fmt: skip
        if kind in named:
            return named[kind](value)
        return self._plain(key, value)

    def _plain(self, key: str, value: Any) -> str:
        labels = {"role": ROLE_LABELS, "audience": AUDIENCE_LABELS}.get(key, {})
        if str(value) in labels:
            return str(labels[str(value)])
        if key in DATE_FIELDS and isinstance(value, str):
            try:
                return localized_datetime(datetime.fromisoformat(value))
            except ValueError:
                return value
        if key == "fiscal_year":
            return self.year(value)
        if key == "scene" and isinstance(value, str):
            return scene_label(value)
        text = str(value)
        return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


# --- The sentences, one per action -----------------------------------------------------------

Sentence = Callable[[AuditRow, Words], str]


def _roster_import(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(year)s の名簿を取り込みました（%(ward)s）", actor=w.actor(row.event),
             year=w.year(_get(row.after, "fiscal_year") or row.event.target_id),
             ward=w.ward(row.event.ward_id))


def _roster_transfer_out(row: AuditRow, w: Words) -> str:
    people = _get(row.after, "employee_ids") or []
    return _("%(actor)sが %(year)s の名簿で、%(ward)s の %(n)s 人をほかの区へ移しました",
             actor=w.actor(row.event), year=w.year(_get(row.after, "fiscal_year")),
             ward=w.ward(row.event.ward_id), n=len(people))


def _catalogue_create(row: AuditRow, w: Words) -> str:
    catalogue = w.catalogue(row.event.target_id)
    source = _get(row.after, "from")
    if source:
        return _("%(actor)sが %(source)s から %(catalogue)s の下書きを作成しました（%(scope)s）",
                 actor=w.actor(row.event), source=w.catalogue(source), catalogue=catalogue,
                 scope=_scope(row, w))
    return _("%(actor)sが %(catalogue)s を読み込みました（%(scope)s、基準 %(n)s 項目）",
             actor=w.actor(row.event), catalogue=catalogue, scope=_scope(row, w),
             n=_get(row.after, "standards") or 0)


def _scope(row: AuditRow, w: Words) -> str:
    """A catalogue's ward, or 「全区共通」 for the city's."""
    return _("全区共通") if row.event.ward_id is None else w.ward(row.event.ward_id)


def _catalogue_update(row: AuditRow, w: Words) -> str:
    actor, catalogue = w.actor(row.event), w.catalogue(row.event.target_id)
    added, retired = _get(row.after, "added"), _get(row.before, "retired")
    if isinstance(added, dict):
        return _("%(actor)sが %(catalogue)s に No.%(number)s を加えました", actor=actor,
                 catalogue=catalogue, number=_get(added, "number"))
    if isinstance(retired, dict):
        return _("%(actor)sが %(catalogue)s の No.%(number)s をやめました", actor=actor,
                 catalogue=catalogue, number=_get(retired, "number"))
    moved = _get(row.after, "renumbered")
    if isinstance(moved, list):
        return _("%(actor)sが %(catalogue)s の番号を付け替えました（%(n)s 件）", actor=actor,
                 catalogue=catalogue, n=len(moved))
    if _get(row.after, "source"):
        return _("%(actor)sが %(catalogue)s を読み込み直しました（加えた基準 %(added)s、"
                 "変えた基準 %(changed)s、やめた基準 %(removed)s）", actor=actor,
                 catalogue=catalogue, added=added or 0, changed=_get(row.after, "changed") or 0,
                 removed=_get(row.after, "removed") or 0)
    return _("%(actor)sが %(catalogue)s の No.%(number)s を変更しました", actor=actor,
             catalogue=catalogue,
             number=_get(row.after, "number") or _get(row.before, "number") or NOTHING)


def _catalogue_publish(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(catalogue)s を公開しました（%(scope)s、基準 %(n)s 項目）",
             actor=w.actor(row.event), catalogue=w.catalogue(row.event.target_id),
             scope=_scope(row, w), n=_get(row.after, "standards") or 0)


def _round_create(row: AuditRow, w: Words) -> str:
    opens, closes = _get(row.after, "opens_at"), _get(row.after, "closes_at")
    try:
        period = localized_period(datetime.fromisoformat(opens), datetime.fromisoformat(closes))
    except (TypeError, ValueError):
        period = NOTHING
    return _("%(actor)sが %(round)s を作成しました（受付 %(period)s、%(wards)s）",
             actor=w.actor(row.event), round=w.round(row), period=period,
             wards=w.value("ward_ids", _get(row.after, "ward_ids")))


def _round_update(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(round)s を変更しました", actor=w.actor(row.event), round=w.round(row))


def _round_remind_now(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(round)s のまだ提出していない %(n)s 人に催促を送りました",
             actor=w.actor(row.event), round=w.round(row), n=_get(row.after, "reminders") or 0)


def _round_send_links(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(round)s のまだ提出していない %(n)s 人にサインイン用リンクを送りました"
             "（%(send)s 回目）", actor=w.actor(row.event), round=w.round(row),
             n=_get(row.after, "people") or 0, send=_get(row.after, "send") or 1)


def _sign_in_link_issue(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(round)s のメールにサインイン用リンク %(n)s 件を入れました",
             actor=w.actor(row.event), round=w.round(row), n=_get(row.after, "links") or 0)


def _sign_in_link_revoke(row: AuditRow, w: Words) -> str:
    count = _get(row.after, "links") or 0
    if row.event.target_type == "round":
        return _("%(actor)sが %(round)s のサインイン用リンク %(n)s 件を無効にしました",
                 actor=w.actor(row.event), round=w.round(row), n=count)
    if _get(row.after, "sign_out"):
        return _("%(actor)sがサインアウトし、自分のサインイン用リンク %(n)s 件が無効になりました",
                 actor=w.actor(row.event), n=count)
    return _("%(actor)sが %(person)s のサインイン用リンク %(n)s 件を無効にしました",
             actor=w.actor(row.event), person=w.person(row.event.target_id), n=count)


def _grant(row: AuditRow, w: Words) -> str:
    values = row.after if row.event.action == "grant.add" else row.before
    role = w.value("role", _get(values, "role"))
    scope = w.ward(_get(values, "ward_id"))
    person = w.person(row.event.target_id)
    if row.event.action == "grant.add" and isinstance(row.before, dict):
        return _("%(actor)sが %(person)s の %(role)s（%(scope)s）の権限の終わりの日を変えました",
                 actor=w.actor(row.event), person=person, role=role, scope=scope)
    if row.event.action == "grant.add" and _get(values, "ends_on"):
        return _("%(actor)sが %(person)s に %(role)s（%(scope)s）の権限を %(until)s まで"
                 "付与しました",
                 actor=w.actor(row.event), person=person, role=role, scope=scope,
                 until=w.value("ends_on", _get(values, "ends_on")))
    if row.event.action == "grant.add":
        return _("%(actor)sが %(person)s に %(role)s（%(scope)s）の権限を付与しました",
                 actor=w.actor(row.event), person=person, role=role, scope=scope)
    return _("%(actor)sが %(person)s の %(role)s（%(scope)s）の権限を取り消しました",
             actor=w.actor(row.event), person=person, role=role, scope=scope)


def _password_link(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(person)s のパスワード設定リンクを発行しました（%(expires)s まで有効）",
             actor=w.actor(row.event), person=w.person(row.event.target_id),
             expires=w.value("expires", _get(row.after, "expires")))


def _sign_in_blocked(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(person)s のサインインを止めました", actor=w.actor(row.event),
             person=w.person(row.event.target_id))


def _sign_in_allowed(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(person)s のサインインを再開しました", actor=w.actor(row.event),
             person=w.person(row.event.target_id))


def _year_plan(row: AuditRow, w: Words) -> tuple[str, str]:
    ward_id, fiscal_year = year_plan_target(row.event.target_id)
    return w.ward(ward_id), w.year(fiscal_year)


def _goals_update(row: AuditRow, w: Words) -> str:
    actor, kind = w.actor(row.event), row.event.target_type
    if kind == "section":
        section = w.section(row.event.target_id)
        year = w.year(_get(row.after, "fiscal_year"))
        if _get(row.after, "copied_from_previous_year"):
            return _("%(actor)sが %(section)s の %(year)s の目標を前年度から写しました",
                     actor=actor, section=section, year=year)
        return _("%(actor)sが %(section)s の %(year)s の目標と実施結果を変更しました",
                 actor=actor, section=section, year=year)
    if kind == "year_plan":
        ward, year = _year_plan(row, w)
        if _get(row.after, "teams_copied_from_previous_year"):
            return _("%(actor)sが %(ward)s の %(year)s に前年度のワーキングチームを写しました",
                     actor=actor, ward=ward, year=year)
        return _("%(actor)sが %(ward)s の %(year)s の方針と総括を変更しました",
                 actor=actor, ward=ward, year=year)
    return _team_update(row, w)


def _team_update(row: AuditRow, w: Words) -> str:
    actor, team = w.actor(row.event), w.team(row)
    if _get(row.after, "deleted"):
        return _("%(actor)sが ワーキングチーム %(team)s を削除しました", actor=actor, team=team)
    if row.before is None:
        return _("%(actor)sが ワーキングチーム %(team)s を作りました", actor=actor, team=team)
    if _get(row.after, "goals") is not None and _get(row.after, "name") is None:
        return _("%(actor)sが ワーキングチーム %(team)s の目標と実施結果を変更しました",
                 actor=actor, team=team)
    return _("%(actor)sが ワーキングチーム %(team)s を変更しました", actor=actor, team=team)


def _goals_import(row: AuditRow, w: Words) -> str:
    ward, year = _year_plan(row, w)
    return _("%(actor)sが %(ward)s の %(year)s の目標を取り込みました（%(file)s）",
             actor=w.actor(row.event), ward=ward, year=year,
             file=_get(row.after, "file") or NOTHING)


def _year_lock(row: AuditRow, w: Words) -> str:
    ward, year = _year_plan(row, w)
    return _("%(actor)sが %(ward)s の %(year)s を確定しました", actor=w.actor(row.event),
             ward=ward, year=year)


def _year_unlock(row: AuditRow, w: Words) -> str:
    ward, year = _year_plan(row, w)
    return _("%(actor)sが %(ward)s の %(year)s の確定を解除しました", actor=w.actor(row.event),
             ward=ward, year=year)


def _sign_in_refused(row: AuditRow, w: Words) -> str:
    throttled = row.event.action == "auth.sign_in_throttled"
    if row.event.target_id is None:
        typed = _get(row.after, "employee_id") or NOTHING
        if throttled:
            return _("名簿にない職員番号 %(typed)s でのサインインを、"
                     "失敗が続いたため一時止めました", typed=typed)
        return _("名簿にない職員番号 %(typed)s でのサインインに失敗しました", typed=typed)
    person = w.person(row.event.target_id)
    if throttled:
        return _("%(person)s としてのサインインを、失敗が続いたため一時止めました", person=person)
    return _("%(person)s としてのサインインに失敗しました", person=person)


def _results_download(row: AuditRow, w: Words) -> str:
    fmt = _get(row.after, "format")
    label = str(FORMAT_LABELS.get(str(fmt), fmt or NOTHING))
    if row.event.target_type == "city":
        return _("%(actor)sが %(year)s の市全体の結果を %(format)s でダウンロードしました",
                 actor=w.actor(row.event), year=w.year(row.event.target_id), format=label)
    return _("%(actor)sが %(round)s の結果（%(group)s）を %(format)s でダウンロードしました",
             actor=w.actor(row.event), round=w.round(row),
             group=w.group(_get(row.after, "group")), format=label)


def _scheduler_plan(row: AuditRow, w: Words) -> str:
    if _get(row.after, "counted"):
        return _("%(actor)sが 締め切った %(round)s の結果を集計しました",
                 actor=w.actor(row.event), round=w.round(row))
    planned = _get(row.after, "planned") or {}
    total = sum(n for n in planned.values() if isinstance(n, int))
    return _("%(actor)sが %(round)s のメール %(n)s 通を送信の予定に入れました",
             actor=w.actor(row.event), round=w.round(row), n=total)


def _retention_purge(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(year)s より前の個人情報を削除しました",
             actor=w.actor(row.event), year=w.year(row.event.target_id))


def _comment_hide(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(round)s のコメントを1件隠しました", actor=w.actor(row.event),
             round=w.round(row))


def _comment_show(row: AuditRow, w: Words) -> str:
    return _("%(actor)sが %(round)s のコメントを1件表示に戻しました", actor=w.actor(row.event),
             round=w.round(row))


SENTENCES: dict[str, Sentence] = {
    "roster.import": _roster_import,
    "roster.transfer_out": _roster_transfer_out,
    "catalogue.create": _catalogue_create,
    "catalogue.update": _catalogue_update,
    "catalogue.publish": _catalogue_publish,
    "round.create": _round_create,
    "round.update": _round_update,
    "round.remind_now": _round_remind_now,
    "round.send_links": _round_send_links,
    "sign_in_link.issue": _sign_in_link_issue,
    "sign_in_link.revoke": _sign_in_link_revoke,
    "grant.add": _grant,
    "grant.revoke": _grant,
    "person.password_link": _password_link,
    "person.sign_in_blocked": _sign_in_blocked,
    "person.sign_in_allowed": _sign_in_allowed,
    "goals.update": _goals_update,
    "goals.import": _goals_import,
    "year.lock": _year_lock,
    "year.unlock": _year_unlock,
    "auth.sign_in_failed": _sign_in_refused,
    "auth.sign_in_throttled": _sign_in_refused,
    "results.download": _results_download,
    "scheduler.plan": _scheduler_plan,
    "retention.purge": _retention_purge,
    "comment.hide": _comment_hide,
    "comment.show": _comment_show,
}


def _target(row: AuditRow, w: Words) -> str:
    """The object of a row without a sentence of its own, by name where it has one."""
    event = row.event
    describe: dict[str, Callable[[], str]] = {
        "person": lambda: w.person(event.target_id),
        "round": lambda: w.round(row),
        "catalogue": lambda: w.catalogue(event.target_id),
        "section": lambda: w.section(event.target_id),
        "working_team": lambda: w.team(row),
        "year_plan": lambda: " ".join(_year_plan(row, w)),
    }
    if event.target_type in describe:
        return describe[event.target_type]()
    return _by_id(event.target_type, event.target_id)


def sentence(row: AuditRow, w: Words) -> str:
    """The row as one sentence; an action without a sentence: its label and its object."""
    write = SENTENCES.get(row.event.action)
    if write is not None:
        text = write(row, w)
    else:
        label = str(ACTIONS.get(row.event.action, row.event.action))
        text = _("%(actor)s: %(action)s（%(target)s）", actor=w.actor(row.event), action=label,
                 target=_target(row, w))
    return text[:1].upper() + text[1:] if is_english() else text


# --- The changes -------------------------------------------------------------------------------


def _flat(value: Any, path: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], Any]:
    """Nested values as one level: a path of keys (and 1-based positions in lists of records)."""
    if isinstance(value, dict):
        out: dict[tuple[str | int, ...], Any] = {}
        for key, item in value.items():
            out.update(_flat(item, (*path, key)))
        return out
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        out = {}
        for position, item in enumerate(value, 1):
            out.update(_flat(item, (*path, position)))
        return out
    return {path: value}


def _label(path: tuple[str | int, ...]) -> str:
    """``("goals", 2, "result")`` -> 「目標 2 / 実施結果」."""
    parts: list[str] = []
    for part in path:
        if isinstance(part, int) and parts:
            parts[-1] = f"{parts[-1]} {part}"
        else:
            parts.append(str(FIELD_LABELS.get(str(part), part)))
    return " / ".join(parts)


def _key(path: tuple[str | int, ...]) -> str:
    return next((str(p) for p in reversed(path) if isinstance(p, str)), "")


def diff(before: Any, after: Any, w: Words) -> list[Change]:
    """The fields whose value differs, in the order the row keeps them (both sides dicts)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    old, new = _flat(before), _flat(after)
    paths = list(old) + [path for path in new if path not in old]
    return [
        Change(_label(path), w.value(_key(path), old.get(path)), w.value(_key(path), new.get(path)))
        for path in paths
        if old.get(path) != new.get(path)
    ]


def _facts(values: Any, labels: dict[str, Any], w: Words) -> list[Change]:
    """Recorded values shown alone (not changes), by the labels' order."""
    return [
        Change(str(label), None, w.value(key, values[key]))
        for key, label in labels.items()
        if isinstance(values, dict) and key in values
    ]


def _standard_changes(row: AuditRow, w: Words) -> list[Change]:
    added, retired = _get(row.after, "added"), _get(row.before, "retired")
    if isinstance(added, dict) or isinstance(retired, dict):
        return _facts(added if isinstance(added, dict) else retired, FIELD_LABELS, w)
    moved = _get(row.after, "renumbered")
    if isinstance(moved, list):
        return [
            Change(str(FIELD_LABELS["number"]), f"No.{item[1]}", f"No.{item[2]}")
            for item in moved
            if isinstance(item, list) and len(item) == 3
        ]
    return diff(row.before, row.after, w)


def _planned(row: AuditRow, w: Words) -> list[Change]:
    planned = _get(row.after, "planned")
    if not isinstance(planned, dict):
        return []
    return [Change(kind_label(kind), None, str(n)) for kind, n in sorted(planned.items())]


def _moved_people(row: AuditRow, w: Words) -> list[Change]:
    people = _get(row.after, "employee_ids")
    return [Change(_("移った人"), None, w.value("employee_ids", people))] if people else []


def _diff(row: AuditRow, w: Words) -> list[Change]:
    return diff(row.before, row.after, w)


CHANGES: dict[str, Callable[[AuditRow, Words], list[Change]]] = {
    "catalogue.update": _standard_changes,
    "scheduler.plan": _planned,
    "retention.purge": lambda row, w: _facts(row.after, PURGE_LABELS, w),
    "catalogue.publish": lambda row, w: [],  # the sentence says it all
    "roster.transfer_out": _moved_people,
}


def _notes(row: AuditRow) -> tuple[str, ...]:
    """The summary lines an import wrote into its row (in Japanese, as written)."""
    lines = _get(row.after, "summary")
    if row.event.action in ("roster.import", "goals.import") and isinstance(lines, list):
        return tuple(str(line) for line in lines)
    return ()


def audit_entries(events: Sequence[AuditEvent]) -> list[AuditEntry]:
    """A page of the log as sentences, changes and notes, its names looked up once."""
    rows = read_rows(events)
    words = Words(audit_names(rows))
    entries = []
    for row in rows:
        changes = CHANGES.get(row.event.action, _diff)
        entries.append(
            AuditEntry(row.event, sentence(row, words), tuple(changes(row, words)), _notes(row))
        )
    return entries
