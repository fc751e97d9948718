"""The audit log: one append-only row per state-changing action, chained by SHA-256, signed
with a key kept outside the database and anchored outside it.

``record`` is the only writer. Each row's ``hash`` covers its fields and the previous row's
hash (``prev_hash``), so a row changed or deleted in the database breaks the chain; its ``mac``
(the HMAC of its place ``seq`` and hash under the audit key) cannot be made without the key;
and after the commit the last row is written to the anchor file and the application log
(``app/services/governance/audit_anchor.py``), so a log cut short or emptied is found.
``verify_chain`` (``flask audit verify``) reports each. Writers are serialised so the chain
never forks: on PostgreSQL by a transaction-scoped advisory lock taken before the last row is
read; SQLite transactions already begin with the write lock (``BEGIN IMMEDIATE``,
app/extensions.py). A unique ``prev_hash`` would refuse a fork anyway.

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

from app.extensions import begin_transaction, db
from app.models import AuditEvent, Person, utcnow
from app.replica import on_replica
from app.services.governance.audit_anchor import (
    Anchor,
    AnchorError,
    audit_key,
    database_identity,
    file_anchor_quietly,
    mac_matches,
    note_append,
    read_anchor,
    restart_anchor,
    row_mac,
    write_anchor,
)

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
    "round.send_links": _l("サインイン用リンクの一斉送信"),
    "sign_in_link.issue": _l("サインイン用リンクの発行"),
    "sign_in_link.revoke": _l("サインイン用リンクの無効化"),
    "grant.add": _l("権限の付与"),
    "grant.revoke": _l("権限の取消し"),
    "person.password_link": _l("パスワード設定リンクの発行"),
    "person.first_admin": _l("最初の管理者の作成"),
    "person.sign_in_blocked": _l("サインインの停止"),
    "person.sign_in_allowed": _l("サインインの再開"),
    "goals.update": _l("目標の変更"),
    "goals.import": _l("目標の取込み"),
    "year.lock": _l("年度の確定"),
    "year.unlock": _l("年度の確定解除"),
    # Refused sign-ins are kept in the login-attempt table, not here (anonymous clients must
    # not grow the log); these two name the rows written before that.
    "auth.sign_in_failed": _l("サインインの失敗"),
    "auth.sign_in_throttled": _l("サインインの制限"),
    "results.download": _l("結果ファイルのダウンロード"),
    "results.read": _l("締め切った調査の結果の閲覧"),
    "round.reopen": _l("締め切った調査の再開"),
    "scheduler.plan": _l("自動送信の予定・集計（スケジューラー）"),
    "retention.purge": _l("保存期間を過ぎた個人情報の削除"),
    "comment.hide": _l("コメントを非表示"),
    "comment.show": _l("コメントを再表示"),
    "action.create": _l("改善の取組の登録"),
    "action.outcome": _l("改善の取組の実施結果の記録"),
    "published.import": _l("公表値の表の取込み"),
    "published.delete": _l("公表値の表の削除"),
    "person.password_set": _l("パスワードの設定"),
    "auth.attempts_pruned": _l("古いサインインの記録の削除"),
    "backup.restore": _l("バックアップからの復元"),
    "demo.build": _l("デモデータの作成"),
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
    once_since: datetime | None = None,
) -> str:
    """Append one row to the log (flushed, not committed) and return its hash.

    ``actor`` is the person who acted (None: the scheduler or the command line);
    the client address is taken from the request when there is one. ``before``/``after`` are
    JSON-serialisable values (dicts of the changed fields); ``ward_id`` is the ward the action
    concerns (None: city-wide), which decides which admins may read the row. With
    ``once_since``, nothing is appended when the log already holds the same action by the same
    actor on the same target at or after that time (checked under the writers' lock); the
    hash returned is then that row's.
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
            appended = _append(connection, fields, once_since)
        if isinstance(appended, str):
            return appended
        write_anchor(appended)
        return appended.hash
    begin_transaction()  # a request that runs without one: the row and its lock in one
    appended = _append(db.session.connection(), fields, once_since)
    if isinstance(appended, str):  # ``once_since`` found the row already there
        return appended
    note_append(db.session(), appended)  # written to the anchor file after the commit
    return appended.hash


def _append(
    connection: sa.Connection, fields: dict[str, Any], once_since: datetime | None = None
) -> Anchor | str:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    if once_since is not None:
        earlier = connection.execute(
            sa.select(AuditEvent.hash)
            .where(
                AuditEvent.action == fields["action"],
                AuditEvent.actor_id == fields["actor_id"],  # IS NULL for None
                AuditEvent.target_type == fields["target_type"],
                AuditEvent.target_id == fields["target_id"],
                AuditEvent.at >= once_since,
            )
            .limit(1)
        ).scalar()
        if earlier is not None:
            return str(earlier)
    last = connection.execute(
        sa.select(AuditEvent.hash, AuditEvent.seq).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    prev_hash = last.hash if last is not None else GENESIS
    if last is None:
        seq = 1
    elif last.seq is not None:
        seq = last.seq + 1
    else:  # the first signed row after rows written before the key: counted once
        seq = int(connection.execute(sa.select(sa.func.count(AuditEvent.id))).scalar_one()) + 1
    follows = _holds_anchored_row(connection, prev_hash)
    digest = row_hash(fields, prev_hash)
    event_id = connection.execute(
        sa.insert(AuditEvent)
        .values(
            **fields, prev_hash=prev_hash, hash=digest, seq=seq,
            mac=row_mac(seq, digest, audit_key()),
        )
        .returning(AuditEvent.id)
    ).scalar_one()
    return Anchor(seq, digest, event_id, database_identity(connection.engine.url), follows)


def _holds_anchored_row(connection: sa.Connection, last_hash: str) -> bool:
    """Whether the log still holds the row the anchor file names (as its last row, or as the
    previous row of one): False when its end was cut, so that a new row never carries the
    anchor past the cut. True without a file (or one verify will report anyway)."""
    anchored = file_anchor_quietly()
    if anchored is None or anchored.hash == last_hash:
        return True
    successor = connection.execute(
        sa.select(AuditEvent.id).where(AuditEvent.prev_hash == anchored.hash).limit(1)
    ).first()
    return successor is not None


def record_restore(source: str) -> None:
    """Audit a database restored from the backup ``source`` (``backup.restore``, no actor: the
    command line), with the anchor it replaces, and let this commit's anchor replace the
    file's: the restored log legitimately ends before it. The cut is then on record, signed."""
    try:
        before = read_anchor(audit_key())
        replaced: Any = None if before is None else {"seq": before.seq, "hash": before.hash}
    except AnchorError:
        replaced = "unreadable"
    record("backup.restore", actor=None, target_type="backup", target_id=source,
           after={"file": source, "anchor_replaced": replaced})
    restart_anchor(db.session())


# --- Checking the chain --------------------------------------------------------------------------

# What ``verify_chain`` finds (``flask audit verify`` says each in words):
# link       the row's prev_hash is not the previous row's hash (a row deleted or inserted)
# hash       the row's fields do not make its hash (edited)
# key        the row's mac is not the audit key's (rewritten or added without the key)
# unsigned   a row without a mac after signed rows (added without the key)
# truncated  the anchored row is not in the log: its last rows were deleted
# emptied    the anchor names a row, but the log is empty: every row was deleted
# anchor     the anchored row is there but not at the anchored place, or not signed
# no_anchor  signed rows but no anchor file (the file was removed, or the wrong path)
# bad_anchor the anchor file does not verify with the key (edited, or another key)
# other_database  the anchor file is another database's (AUDIT_ANCHOR_PATH is not this one's)
PROBLEMS = ("link", "hash", "key", "unsigned", "truncated", "emptied", "anchor", "no_anchor",
            "bad_anchor", "other_database")


@dataclass(frozen=True)
class ChainProblem:
    """A row whose hash, link or key does not match (edited, inserted or deleted by hand), or
    a log that does not reach its anchor (``event_id`` None: the log as a whole)."""

    event_id: int | None
    reason: str


@dataclass
class _Walk:
    """The state of one pass over the log, row by row in id order."""

    key: bytes
    anchor: Anchor | None
    previous: str = GENESIS
    rows: int = 0
    signed: bool = False
    anchored: tuple[int, AuditEvent] | None = None  # (place, row) of the anchored row

    def check(self, event: AuditEvent) -> ChainProblem | None:
        self.rows += 1
        fields = {column: getattr(event, column) for column in HASHED_FIELDS}
        problem = None
        if event.prev_hash != self.previous:
            problem = "link"
        elif row_hash(fields, event.prev_hash) != event.hash:
            problem = "hash"
        elif event.mac is None:
            problem = "unsigned" if self.signed else None
        elif not mac_matches(event.seq, event.hash, event.mac, self.key):
            problem = "key"
        self.signed = self.signed or event.mac is not None
        if self.anchor is not None and event.hash == self.anchor.hash:
            self.anchored = (self.rows, event)
        self.previous = event.hash
        return None if problem is None else ChainProblem(event.id, problem)

    def end(self) -> ChainProblem | None:
        if self.anchor is None:
            return ChainProblem(None, "no_anchor") if self.signed else None
        if self.anchored is None:
            return ChainProblem(None, "emptied" if self.rows == 0 else "truncated")
        place, event = self.anchored
        if place != self.anchor.seq or event.seq != self.anchor.seq or not mac_matches(
            event.seq, event.hash, event.mac, self.key
        ):
            return ChainProblem(event.id, "anchor")
        return None


def verify_chain() -> Iterator[ChainProblem]:
    """Every row whose stored hash is not the hash of its fields, whose ``prev_hash`` is not
    the previous row's hash, or whose mac is not the audit key's, in id order; then the log
    as a whole when it does not reach the anchored row (nothing: the log is intact).

    Rows written before the key was used (no mac) are checked by their chain alone; once a
    signed row exists every later row must be signed. A log may run past its anchor (a
    process stopped between its commit and the anchor's write) but never stop short of it."""
    key = audit_key()
    altered = False
    try:
        anchor = read_anchor(key)
    except AnchorError:
        anchor, altered = None, True
        yield ChainProblem(None, "bad_anchor")
    if anchor is not None and anchor.database != database_identity(db.engine.url):
        anchor, altered = None, True
        yield ChainProblem(None, "other_database")
    walk = _Walk(key, anchor)
    rows = db.session.execute(
        sa.select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=500)
    ).scalars()
    for event in rows:
        problem = walk.check(event)
        if problem is not None:
            yield problem
    end = walk.end()
    if end is not None and not altered:
        yield end


# The columns a row's hash covers (with prev_hash), in row_hash's material.
HASHED_FIELDS = (
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
