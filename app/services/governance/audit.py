"""The audit log: one append-only row per state-changing action, chained by SHA-256.

``record`` is the only writer. Each row's ``hash`` covers its fields and the previous row's
hash (``prev_hash``), so a row changed or deleted in the database breaks the chain, which
``verify_chain`` (``flask audit verify``) reports. Writers are serialised so the chain never
forks: on PostgreSQL by a transaction-scoped advisory lock taken before the last row is read;
SQLite transactions already begin with the write lock (``BEGIN IMMEDIATE``, app/extensions.py).
A unique ``prev_hash`` would refuse a fork anyway.

Functions flush but never commit: the row is part of the action's own transaction, so an
action that rolls back leaves no row. The one exception is a request served by the read
replica (a results download): its row is written to the primary in a transaction of its own.
docs/audit.md lists the actions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Assignment, AuditEvent, Person, Section, utcnow
from app.replica import on_replica
from app.services.identity.auth import find_person, normalise_employee_id
from app.wareki import fiscal_year_of, tokyo

# A fixed key for PostgreSQL's advisory lock that serialises writers of the log.
ADVISORY_LOCK_KEY = 0x4B494A554E0A  # "KIJUN\n"
GENESIS = ""  # the prev_hash of the first row

# The stable action names, with what the log page calls them. Add new ones here.
ACTIONS: dict[str, Any] = {
    "roster.import": _l("名簿の取込み"),
    "roster.transfer_out": _l("ほかの区の名簿への異動"),
    "catalogue.create": _l("基準の作成"),
    "catalogue.update": _l("基準の変更"),
    "catalogue.publish": _l("基準の公開"),
    "round.create": _l("調査の作成"),
    "round.update": _l("調査の変更"),
    "round.remind_now": _l("催促メールの送信"),
    "grant.add": _l("権限の付与"),
    "grant.revoke": _l("権限の取消し"),
    "person.password_link": _l("パスワード設定リンクの発行"),
    "person.sign_in_blocked": _l("サインインの停止"),
    "person.sign_in_allowed": _l("サインインの再開"),
    "goals.update": _l("目標の変更"),
    "goals.import": _l("目標の取込み"),
    "year.lock": _l("年度の確定"),
    "year.unlock": _l("年度の確定解除"),
    "auth.sign_in_failed": _l("サインインの失敗"),
    "auth.sign_in_throttled": _l("サインインの制限"),
    "results.download": _l("結果ファイルのダウンロード"),
    "scheduler.plan": _l("自動送信の予定・集計（スケジューラー）"),
    "retention.purge": _l("保存期間を過ぎた個人情報の削除"),
    "comment.hide": _l("コメントを非表示"),
    "comment.show": _l("コメントを再表示"),
    "action.create": _l("改善の取組の登録"),
    "action.update": _l("改善の取組の変更"),
    "action.delete": _l("改善の取組の削除"),
}


class AuditError(ValueError):
    """An action name that is not in ``ACTIONS``: a programming error, never user input."""


def canonical(value: Any) -> str | None:
    """``value`` as canonical JSON text (sorted keys, no spaces; dates as ISO text), or None."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """The SHA-256 (hex) of a row's fields and the previous row's hash."""
    material = {
        "at": _stamp(fields["at"]),
        "actor_id": fields["actor_id"],
        "actor_employee_id": fields["actor_employee_id"],
        "address": fields["address"],
        "action": fields["action"],
        "target_type": fields["target_type"],
        "target_id": fields["target_id"],
        "ward_id": fields["ward_id"],
        "before": fields["before"],
        "after": fields["after"],
        "prev_hash": prev_hash,
    }
    # canonical() is None only for None; material is a dict.
    return hashlib.sha256(canonical(material).encode()).hexdigest()  # type: ignore[union-attr]


def single_ward(ward_ids: list[int]) -> int | None:
    """The ward of an object that concerns ``ward_ids``: the one ward, or None (the city) when
    it spans several, so that only a city-wide admin reads the row of a several-ward round."""
    return ward_ids[0] if len(ward_ids) == 1 else None


def _client_address() -> str | None:
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:64] or None


def record(
    action: str,
    *,
    actor: Person | None,
    target_type: str,
    target_id: object | None,
    before: Any = None,
    after: Any = None,
    ward_id: int | None = None,
    at: datetime | None = None,
) -> str:
    """Append one row to the log (flushed, not committed) and return its hash.

    ``actor`` is the person who acted (None: the scheduler, or an unknown person at sign-in);
    the client address is taken from the request when there is one. ``before``/``after`` are
    JSON-serialisable values (dicts of the changed fields); ``ward_id`` is the ward the action
    concerns (None: city-wide), which decides which admins may read the row.
    """
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action: {action!r}")
    fields: dict[str, Any] = {
        "at": at or utcnow(),
        "actor_id": actor.id if actor is not None else None,
        "actor_employee_id": actor.employee_id if actor is not None else None,
        "address": _client_address(),
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id)[:64],
        "ward_id": ward_id,
        "before": canonical(before),
        "after": canonical(after),
    }
    if on_replica():
        # A report request reads the replica; its log row goes to the primary on its own.
        with db.engine.begin() as connection:
            return _append(connection, fields)
    return _append(db.session.connection(), fields)


def _append(connection: sa.Connection, fields: dict[str, Any]) -> str:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    last = connection.execute(
        sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    prev_hash = last or GENESIS
    digest = row_hash(fields, prev_hash)
    connection.execute(sa.insert(AuditEvent).values(**fields, prev_hash=prev_hash, hash=digest))
    return digest


# --- Checking the chain --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainProblem:
    """A row whose hash or link does not match: edited, inserted or deleted by hand."""

    event_id: int
    reason: str


def verify_chain() -> Iterator[ChainProblem]:
    """Every row whose stored hash is not the hash of its fields, or whose ``prev_hash`` is
    not the previous row's hash, in id order (nothing: the log is intact)."""
    previous = GENESIS
    rows = db.session.execute(
        sa.select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=500)
    ).scalars()
    for event in rows:
        fields = {column: getattr(event, column) for column in _HASHED}
        if event.prev_hash != previous:
            yield ChainProblem(event.id, "link")
        elif row_hash(fields, event.prev_hash) != event.hash:
            yield ChainProblem(event.id, "hash")
        previous = event.hash


_HASHED = (
    "at",
    "actor_id",
    "actor_employee_id",
    "address",
    "action",
    "target_type",
    "target_id",
    "ward_id",
    "before",
    "after",
)


# --- Reading the log -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the log page asks for; every part optional."""

    actor: str | None = None  # an employee id, of the actor or of the person acted on
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive


def audit_query(ward_ids: set[int] | None, wanted: AuditFilter) -> sa.Select[AuditEvent]:
    """The rows an admin of ``ward_ids`` (None: the city, which also sees rows of no ward) may
    read that match ``wanted``, newest first."""
    query = sa.select(AuditEvent)
    if ward_ids is not None:
        query = query.where(AuditEvent.ward_id.in_(sorted(ward_ids)))
    if wanted.actor:
        person_id = db.session.scalar(
            sa.select(Person.id).where(Person.employee_id == wanted.actor)
        )
        about_person = sa.and_(
            AuditEvent.target_type == "person", AuditEvent.target_id == str(person_id)
        )
        query = query.where(
            sa.or_(AuditEvent.actor_employee_id == wanted.actor, about_person)
            if person_id is not None
            else AuditEvent.actor_employee_id == wanted.actor
        )
    if wanted.action:
        query = query.where(AuditEvent.action == wanted.action)
    if wanted.target_type:
        query = query.where(AuditEvent.target_type == wanted.target_type)
    if wanted.target_id:
        query = query.where(AuditEvent.target_id == wanted.target_id)
    if wanted.since:
        query = query.where(AuditEvent.at >= wanted.since)
    if wanted.until:
        query = query.where(AuditEvent.at < wanted.until)
    return query.order_by(AuditEvent.id.desc())


CSV_HEADER = (
    "id",
    "日時",
    "職員番号",
    "アドレス",
    "操作",
    "対象",
    "対象ID",
    "区ID",
    "変更前",
    "変更後",
    "hash",
)


def csv_rows(query: sa.Select[AuditEvent]) -> Iterator[tuple[object, ...]]:
    """The rows of ``query`` as CSV cells (raw; the writer makes text cells formula-safe)."""
    for event in db.session.execute(query.execution_options(yield_per=500)).scalars():
        yield (
            event.id,
            _stamp(event.at),
            event.actor_employee_id or "",
            event.address or "",
            event.action,
            event.target_type,
            event.target_id or "",
            "" if event.ward_id is None else event.ward_id,
            event.before or "",
            event.after or "",
            event.hash,
        )


def audit_sign_in_refused(typed_employee_id: str, outcome: str) -> None:
    """Log a refused sign-in: ``auth.sign_in_failed`` or, when the account or address was
    throttled, ``auth.sign_in_throttled``. The row names what was typed, never the password;
    it belongs to the person's ward this year when such a person exists (so that ward's admins
    see attempts on their people), else to no ward."""
    key = normalise_employee_id(typed_employee_id)[:32]
    person = find_person(key) if key else None
    record(
        "auth.sign_in_throttled" if outcome == "throttled" else "auth.sign_in_failed",
        actor=None,
        target_type="person",
        target_id=person.id if person is not None else None,
        after={"employee_id": key},
        ward_id=current_ward_of(person) if person is not None else None,
    )


def current_ward_of(person: Person) -> int | None:
    """The ward of the person's section in this fiscal year, or None (not on the roster)."""
    return db.session.scalar(
        sa.select(Section.ward_id)
        .join(Assignment, Assignment.section_id == Section.id)
        .where(
            Assignment.person_id == person.id,
            Assignment.fiscal_year == fiscal_year_of(tokyo(utcnow())),
        )
    )
