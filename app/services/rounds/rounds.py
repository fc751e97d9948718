"""Survey rounds: open a catalogue for a period in some wards (``flask --app wsgi round ...``).

A round asks the standards of one catalogue of the people of one or more wards, between
``opens_at`` (inclusive) and ``closes_at`` (exclusive): it is open exactly when
``opens_at <= now < closes_at``. Times are stored in UTC and shown on the city's clock
(Asia/Tokyo).

The fiscal year rule: ``round.fiscal_year`` is the fiscal year (April-March, Asia/Tokyo) in
which the round opens. It decides whose roster answers (each person's assignment of that year:
section and role). The catalogue's own fiscal year is usually the same; it may be older when the
new year's list is not yet published (last year's catalogue asked again), and the round then
still uses the roster of the year it runs in. A round that opens in March and closes after
1 April keeps the opening year's roster.

Like every service it flushes but never commits: the caller commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.access import covers, in_scope_clause
from app.extensions import db
from app.models import Catalogue, Round, RoundState, Ward, round_state, round_ward, utcnow
from app.services.errors import DomainError
from app.services.governance.retention import answers_purged
from app.services.one_line import one_line_problem
from app.services.results.readers import reopen_refusal
from app.services.results.tally import discard_counts
from app.wareki import TOKYO, fiscal_year_label, fiscal_year_of, tokyo

TITLE_MAX_LENGTH = 200  # Round.title is String(200)

# Reminders: days before the close (docs/scheduler.md). Round.reminder_days stores "7,3,1".
DEFAULT_REMINDER_DAYS: tuple[int, ...] = (7, 3, 1)
REMINDER_DAYS_MAX = 90
REMINDER_POINTS_MAX = 10

# 2026-11-01 09:00, 2026-11-01T09:00, optional seconds, optional offset (Z, +09:00, +0900).
_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)


class RoundError(DomainError):
    """A round cannot be created; ``errors`` holds every problem found, in plain Japanese."""


@dataclass(frozen=True)
class RoundSummary:
    """A round as ``flask round list`` shows it."""

    id: int
    title: str
    fiscal_year: int
    catalogue_key: str
    wards: tuple[str, ...]
    opens_at: datetime
    closes_at: datetime
    state: RoundState

    @property
    def is_open(self) -> bool:
        return self.state == "open"


def default_title(fiscal_year: int) -> str:
    """``2025`` -> ``令和7年度 区役所サービス基準 自己点検``."""
    return f"{fiscal_year_label(fiscal_year)} 区役所サービス基準 自己点検"


def parse_datetime(text: str) -> datetime:
    """``2026-11-01 09:00`` or ``2026-11-01T09:00`` (seconds optional) as an aware datetime.

    Without an offset the time is on the city's clock (Asia/Tokyo); ``Z`` or ``+09:00`` style
    offsets are honoured. Raises ValueError with a plain Japanese message otherwise.
    """
    cleaned = text.strip()
    match = _DATETIME.match(cleaned)
    if match is None:
        raise ValueError(
            _(
                "日時「%(text)s」が読めません。2026-11-01 09:00 のように「年-月-日 時:分」で"
                "書いてください（時差は +09:00 のように付けられます）。",
                text=text,
            )
        )
    offset = match["offset"] or ""
    if offset and offset != "Z" and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}{offset}")
    except ValueError as exc:
        raise ValueError(_("日時「%(text)s」はありえない日付か時刻です。", text=text)) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)
    return moment


def create_round(
    catalogue_key: str,
    ward_names: Sequence[str],
    opens_at: datetime,
    closes_at: datetime,
    title: str | None = None,
    reminder_days: Sequence[int] | None = None,
    *,
    allowed_ward_ids: Collection[int] | None = None,
) -> Round:
    """Create a round of the catalogue ``catalogue_key`` for the named wards.

    Checks, collecting every problem before giving up (RoundError): the catalogue and each ward
    exist; at least one ward; a ward's own catalogue (``catalogue.ward`` set) only for that
    ward; both times are aware and ``opens_at < closes_at``; the title fits on one line
    (``app.services.one_line``). The fiscal year
    is the opening's (see the module docstring); the default title is
    「令和N年度 区役所サービス基準 自己点検」 for that year. ``reminder_days`` (days before the
    close, see ``parse_reminder_days``) defaults to 7, 3 and 1. ``allowed_ward_ids`` is the
    admin's ward scope (``app.access.ward_scope``; None = every ward): a ward outside it is
    refused. Flushes, never commits.
    """
    catalogue, wards, fiscal_year, final_title = _checked(
        catalogue_key, ward_names, opens_at, closes_at, title, [], allowed_ward_ids
    )
    round_ = Round(
        title=final_title,
        catalogue=catalogue,
        fiscal_year=fiscal_year,
        opens_at=opens_at,
        closes_at=closes_at,
        wards=wards,
        reminder_days=format_reminder_days(
            DEFAULT_REMINDER_DAYS if reminder_days is None else reminder_days
        ),
    )
    db.session.add(round_)
    db.session.flush()
    return round_


def update_round(
    round_: Round,
    catalogue_key: str,
    ward_names: Sequence[str],
    opens_at: datetime,
    closes_at: datetime,
    title: str | None = None,
    reminder_days: Sequence[int] | None = None,
    now: datetime | None = None,
    *,
    allowed_ward_ids: Collection[int] | None = None,
) -> Round:
    """Change a round, with the same checks as ``create_round`` and what its state allows.

    Before the opening everything may change (the fiscal year follows the opening). Once the
    round has opened, its catalogue, wards and opening stay as they are (people have answered
    against them); the close and the reminder cadence may move, also to now (which closes the
    round). Once it has closed, the title may change, and the close may move to a later time
    to reopen it, as long as nobody has read its results (``readers.reopen_refusal``): its
    counts are then discarded and its results hidden again until it closes
    (app/services/results/tally.py). Mail already written in the send
    ledger stays as it is: the ledger's one row per (round, person, kind) means the opened mail
    and a reminder of a given days-before-close are never sent twice, whatever the new times
    (docs/scheduler.md). ``allowed_ward_ids`` (the admin's ward scope, None = every ward) must
    hold every ward of the round as it is and as it would be. Raises RoundError with every
    problem; flushes, never commits.
    """
    now = now or utcnow()
    days = parse_reminder_days(round_.reminder_days) if reminder_days is None else reminder_days
    errors = _outside_scope(round_, allowed_ward_ids)
    same_wards = {w.name for w in round_.wards} == {n.strip() for n in ward_names if n.strip()}
    same_catalogue_and_wards = catalogue_key == round_.catalogue.key and same_wards
    was_closed = round_.state(now) == "closed"
    reopened = reopens(round_, opens_at, closes_at, now)
    if was_closed:
        unchanged = (
            opens_at == round_.opens_at
            and (closes_at == round_.closes_at or reopened)
            and same_catalogue_and_wards
            and tuple(days) == parse_reminder_days(round_.reminder_days)
        )
        errors += _closed_round_refusals(round_, unchanged, reopened)
    elif round_.state(now) == "open":
        if not same_catalogue_and_wards:
            errors.append(_("受付が始まった調査の基準（カタログ）と区は変えられません。"))
        if opens_at != round_.opens_at:
            errors.append(_("受付が始まった調査の受付開始の日時は変えられません。"))
    catalogue, wards, fiscal_year, final_title = _checked(
        catalogue_key, ward_names, opens_at, closes_at, title, errors, allowed_ward_ids
    )
    round_.title = final_title
    round_.catalogue = catalogue
    round_.fiscal_year = fiscal_year
    round_.opens_at = opens_at
    round_.closes_at = closes_at
    round_.wards = wards
    round_.reminder_days = format_reminder_days(days)
    if reopened and not errors:
        discard_counts(round_)
    db.session.flush()
    return round_


def reopens(round_: Round, opens_at: datetime, closes_at: datetime, now: datetime) -> bool:
    """Whether these times reopen a round that has closed (its close moved later than now).
    A reopening is refused once anyone has read the round's results (``update_round``)."""
    return round_.state(now) == "closed" and round_state(opens_at, closes_at, now) != "closed"


def _outside_scope(round_: Round, allowed_ward_ids: Collection[int] | None) -> list[str]:
    """A refusal when the round is also of a ward outside the admin's scope (None: every
    ward)."""
    outside = [w.name for w in round_.wards if not covers(allowed_ward_ids, [w.id])]
    if not outside:
        return []
    names = "、".join(outside)
    return [_("この調査は%(names)sの調査でもあるため、変えられません。", names=names)]


def _closed_round_refusals(round_: Round, unchanged: bool, reopened: bool) -> list[str]:
    """What a closed round refuses: any change but the title and a close moved later
    (``unchanged`` says there is none), and reopening once its results have been read
    (``readers.reopen_refusal``: the audit log knows) or answers have been purged."""
    errors: list[str] = []
    if not unchanged:
        errors.append(
            _(
                "締め切った調査は、題名と、受け付けを再開するための締め切りの日時"
                "（今より後）のほかは変えられません。"
            )
        )
    refusal = reopen_refusal(round_.id) if reopened else None
    if refusal is not None:
        errors.append(refusal)
    if reopened and answers_purged(round_.id):
        # Reopening discards the counts, and the purged answers cannot be counted again.
        errors.append(
            _(
                "この調査の回答は保存期間を過ぎて一部が削除されています。受け付けを再開すると"
                "集計をやり直すことになり、公表した遵守率が変わるため、再開できません。"
            )
        )
    return errors


def parse_reminder_days(text: str) -> tuple[int, ...]:
    """``"7,3,1"`` (also ``7、3、1`` or full-width digits) -> ``(7, 3, 1)``; ``""`` -> ``()``.

    Each value is a whole number of days before the close, 1 to 90, at most 10 of them;
    duplicates are dropped and the result runs from the earliest reminder to the last.
    Raises ValueError with a plain Japanese message otherwise.
    """
    cleaned = unicodedata.normalize("NFKC", text).replace("、", ",").strip()
    if not cleaned:
        return ()
    days: set[int] = set()
    for part in cleaned.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= REMINDER_DAYS_MAX:
            raise ValueError(
                _(
                    "お知らせを送る日「%(part)s」が読めません。締め切りの何日前かを 1 から "
                    "%(max)s の数で、7,3,1 のようにカンマで区切って書いてください。",
                    part=part,
                    max=REMINDER_DAYS_MAX,
                )
            )
        days.add(int(part))
    if len(days) > REMINDER_POINTS_MAX:
        raise ValueError(
            _("お知らせを送る日は %(max)s 回までにしてください。", max=REMINDER_POINTS_MAX)
        )
    return tuple(sorted(days, reverse=True))


def format_reminder_days(days: Sequence[int]) -> str:
    """``(7, 3, 1)`` -> ``"7,3,1"`` (as ``Round.reminder_days`` stores it)."""
    return ",".join(str(d) for d in sorted(set(days), reverse=True))


def _checked(
    catalogue_key: str,
    ward_names: Sequence[str],
    opens_at: datetime,
    closes_at: datetime,
    title: str | None,
    errors: list[str],
    allowed_ward_ids: Collection[int] | None = None,
) -> tuple[Catalogue, list[Ward], int, str]:
    """The catalogue, wards, fiscal year and title of a round, or RoundError naming every
    problem (``errors`` may bring problems found earlier; a ward outside ``allowed_ward_ids``,
    when given, is one, and so is another ward's catalogue: ``usable_catalogues``)."""
    catalogue = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == catalogue_key))
    if catalogue is None:
        errors.append(
            _(
                "カタログ「%(key)s」は読み込まれていません"
                "（flask --app wsgi catalogue list で確かめてください）。",
                key=catalogue_key,
            )
        )
    elif catalogue.published_at is None:
        errors.append(
            _(
                "カタログ「%(key)s」は下書きです。公開してから調査に使ってください。",
                key=catalogue_key,
            )
        )

    wards = _checked_wards(ward_names, errors, allowed_ward_ids)

    if (
        catalogue is not None
        and catalogue.ward_id is not None
        and not covers(allowed_ward_ids, [catalogue.ward_id])
    ):
        own = catalogue.ward.name if catalogue.ward is not None else ""
        errors.append(
            _(
                "カタログ「%(key)s」は%(own)sの基準です。管理する区の基準か全市の基準を"
                "選んでください。",
                key=catalogue.key,
                own=own,
            )
        )
    elif catalogue is not None and catalogue.ward_id is not None:
        own = catalogue.ward.name if catalogue.ward is not None else ""
        others = [w.name for w in wards if w.id != catalogue.ward_id]
        if others:
            errors.append(
                _(
                    "カタログ「%(key)s」は%(own)sの基準です。ほかの区（%(others)s）には使えません。",
                    key=catalogue.key,
                    own=own,
                    others="、".join(others),
                )
            )

    aware = _checked_times(opens_at, closes_at, errors)
    fiscal_year = fiscal_year_of(tokyo(opens_at)) if aware else 0
    final_title = (title or "").strip() or default_title(fiscal_year)
    if len(final_title) > TITLE_MAX_LENGTH:
        errors.append(_("題名は %(max)d 文字までにしてください。", max=TITLE_MAX_LENGTH))
    if (problem := one_line_problem(final_title, _("題名"))) is not None:
        errors.append(problem)  # the title is the subject of the round's mail

    if errors or catalogue is None:
        raise RoundError(errors)
    return catalogue, wards, fiscal_year, final_title


def _checked_wards(
    ward_names: Sequence[str], errors: list[str], allowed_ward_ids: Collection[int] | None
) -> list[Ward]:
    """The named wards that exist, in the order named (each once); adds to ``errors`` none
    named, an unknown name and a ward outside ``allowed_ward_ids`` (None: every ward)."""
    names = list(dict.fromkeys(name.strip() for name in ward_names if name.strip()))
    wards: list[Ward] = []
    if not names:
        errors.append(_("対象の区を1つ以上指定してください（--ward 高津区）。"))
    else:
        found = {w.name: w for w in db.session.scalars(sa.select(Ward).where(Ward.name.in_(names)))}
        for name in names:
            if name not in found:
                errors.append(_("区「%(name)s」はありません。", name=name))
        wards = [found[name] for name in names if name in found]
        if allowed_ward_ids is not None:
            for ward in wards:
                if ward.id not in allowed_ward_ids:
                    errors.append(
                        _("%(name)sの調査を管理する権限がありません。", name=ward.name)
                    )
    return wards


def _checked_times(opens_at: datetime, closes_at: datetime, errors: list[str]) -> bool:
    """Whether both times carry their time zone (adds to ``errors`` each that does not, and
    a close not after the opening)."""
    aware = True
    for label, moment in ((_("受付開始"), opens_at), (_("締め切り"), closes_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            errors.append(_("%(label)sの日時に時差（タイムゾーン）がありません。", label=label))
            aware = False
    if aware and not opens_at < closes_at:
        errors.append(_("締め切りは受付開始より後にしてください。"))
    return aware


def usable_catalogues(allowed_ward_ids: Collection[int] | None) -> list[Catalogue]:
    """The published catalogues an admin of ``allowed_ward_ids`` (None: the city) may open a
    round on: the city-wide ones and their own wards' (``app.access.in_scope_clause``), the
    newest year first. ``_checked`` refuses any other."""
    return list(
        db.session.scalars(
            sa.select(Catalogue)
            .where(
                Catalogue.published_at.is_not(None),  # a draft is not for rounds yet
                sa.or_(
                    Catalogue.ward_id.is_(None),
                    in_scope_clause(Catalogue.ward_id, allowed_ward_ids),
                ),
            )
            .order_by(Catalogue.fiscal_year.desc(), Catalogue.key)
        )
    )


def catalogue_year_mismatch(
    catalogue_key: str, opens_at: datetime, round_: Round | None = None
) -> str | None:
    """A warning when the round's fiscal year (that of its opening, Tokyo) is not the
    catalogue's, e.g. a 令和8年度 round on the 令和7年度 standards; None when they agree, or
    when the catalogue or the time cannot be read (the save reports those itself). For a
    round being edited (``round_``), None as well when neither its catalogue nor its fiscal
    year changes: that year was confirmed when it was saved, and is not asked again."""
    catalogue = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == catalogue_key))
    if catalogue is None or opens_at.tzinfo is None:
        return None
    round_year = fiscal_year_of(tokyo(opens_at))
    if round_year == catalogue.fiscal_year:
        return None
    if (
        round_ is not None
        and round_.catalogue_id == catalogue.id
        and round_.fiscal_year == round_year
    ):
        return None
    return str(_(
        "この調査は%(round_year)sですが、基準（カタログ）は%(catalogue_year)sのものです。",
        round_year=fiscal_year_label(round_year),
        catalogue_year=fiscal_year_label(catalogue.fiscal_year),
    ))


def list_rounds(
    now: datetime | None = None, *, ward_ids: Collection[int] | None = None
) -> list[RoundSummary]:
    """Every round, newest opening first, with its catalogue and wards (two queries).

    With ``ward_ids`` (an admin's ward scope; None = every ward) only the rounds whose wards
    all lie in it: the rounds that admin may manage.
    """
    query = (
        sa.select(Round, Catalogue.key)
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .order_by(Round.opens_at.desc(), Round.id.desc())
    )
    if ward_ids is not None:
        in_round = round_ward.c.round_id == Round.id
        query = query.where(
            sa.exists().where(in_round),
            ~sa.exists().where(in_round, round_ward.c.ward_id.not_in(list(ward_ids))),
        )
    rows = db.session.execute(query).all()
    wards_by_round: dict[int, list[str]] = {}
    if rows:
        for round_id, ward_name in db.session.execute(
            sa.select(round_ward.c.round_id, Ward.name)
            .join(Ward, Ward.id == round_ward.c.ward_id)
            .where(round_ward.c.round_id.in_([r.id for r, _wards in rows]))
            .order_by(Ward.sort_order, Ward.name)
        ):
            wards_by_round.setdefault(round_id, []).append(ward_name)
    return [
        RoundSummary(
            id=r.id,
            title=r.title,
            fiscal_year=r.fiscal_year,
            catalogue_key=key,
            wards=tuple(wards_by_round.get(r.id, ())),
            opens_at=r.opens_at,
            closes_at=r.closes_at,
            state=r.state(now),
        )
        for r, key in rows
    ]


def round_values(round_: Round) -> dict[str, Any]:
    """What the audit log keeps of a round: its catalogue, wards, title, times, reminders."""
    return {
        "title": round_.title,
        "catalogue": round_.catalogue.key,
        "fiscal_year": round_.fiscal_year,
        "ward_ids": [ward.id for ward in round_.wards],
        "opens_at": round_.opens_at.isoformat(),
        "closes_at": round_.closes_at.isoformat(),
        "reminder_days": round_.reminder_days,
    }
