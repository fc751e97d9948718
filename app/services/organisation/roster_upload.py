"""The roster uploaded in the browser: a preview that writes nothing, then a confirmation.

The page and ``flask roster import`` share the import itself (``read_roster`` and
``import_roster`` in ``app.services.organisation.roster``). The uploaded file is kept in the
instance folder under its SHA-256 (``roster-uploads/<sha256>.<csv|xlsx>``); the preview runs the
import inside the transaction and rolls it back, as ``--dry-run`` does, and hands the page the
file's digest and a digest of what the import would do. The confirmation names both: it is refused
when the stored file no longer has that SHA-256, or when the import would now do something else than
the admin saw (another import in between). Functions never commit.

The file holds everyone's name and mail address, so it is kept only while it waits: written
0600 in a 0700 folder (``app.private_files``), and removed when it is imported, when the
preview or the confirmation refuses it, when the admin cancels (取り消す), and at the latest
``UPLOAD_MAX_AGE`` after it was stored (``sweep_uploads``: on every new upload and on every
scheduler tick).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.access import covers, is_city
from app.extensions import db
from app.models import Assignment, Grant, Person, Section, Ward, utcnow
from app.private_files import private_dir, write_private
from app.services.governance import audit
from app.services.organisation.roster import RosterSummary, import_roster
from app.services.organisation.roster_file import RosterError, RosterRow, read_roster
from app.services.organisation.roster_warnings import RosterWarning, roster_warnings

SUFFIXES = (".csv", ".xlsx")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# How long an upload may wait for its confirmation before sweep_uploads removes it.
UPLOAD_MAX_AGE = timedelta(hours=24)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_STORED_NAME = re.compile(r"^[0-9a-f]{64}\.(?:csv|xlsx)$")

log = logging.getLogger("kijun.roster_upload")


class UploadError(Exception):
    """The upload cannot be previewed or confirmed; ``errors`` are in the page's language
    (the roster's own line errors stay Japanese, as the CLI prints them)."""

    def __init__(self, errors: list[str], status: int = 400) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.status = status


class NotAcknowledged(UploadError):
    """The preview warned (``roster_warnings``) and the confirmation did not tick
    「確認しました」: nothing imported, the file kept for the same preview again."""


@dataclass(frozen=True)
class CrossWardMove:
    """A person this roster takes from a ward outside the admin's wards (an April transfer)."""

    employee_id: str
    name: str  # as stored: the file cannot change it
    from_ward_id: int
    from_ward: str
    to_ward: str


@dataclass(frozen=True)
class IdentityCheck:
    """What a ward admin's roster may do to people whose identity it does not own.

    ``kept``: employee ids whose stored name and mail address the import keeps (people who
    hold a grant, and people arriving from a ward outside the admin's); ``moves``: the
    cross-ward transfers the confirming admin takes on. docs/admin.md, "Identity".
    """

    kept: frozenset[str] = frozenset()
    moves: tuple[CrossWardMove, ...] = ()


@dataclass(frozen=True)
class Preview:
    """What the import would do, and the digests the confirmation must name."""

    sha256: str
    suffix: str
    fiscal_year: int
    summary: RosterSummary
    summary_digest: str
    identity: IdentityCheck = IdentityCheck()
    warnings: tuple[RosterWarning, ...] = ()


def _upload_path() -> Path:
    configured = current_app.config.get("ROSTER_UPLOAD_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "roster-uploads"


def upload_dir() -> Path:
    """Where uploads wait for their confirmation: ``ROSTER_UPLOAD_DIR``, by default
    ``instance/roster-uploads``; created 0700 (an existing one is made 0700)."""
    return private_dir(_upload_path())


def _stored(sha256: str, suffix: str) -> Path:
    if not _DIGEST.match(sha256) or suffix not in SUFFIXES:
        raise UploadError([_("確認する名簿が正しくありません。もう一度アップロードしてください。")])
    return upload_dir() / f"{sha256}{suffix}"


def store_upload(filename: str, data: bytes) -> tuple[str, str]:
    """Keep the uploaded bytes under their SHA-256; return (sha256, suffix)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadError([_("名簿は .csv または .xlsx のファイルにしてください。")])
    if not data:
        raise UploadError([_("ファイルが空です。")])
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError([_("ファイルが大きすぎます（20 MB まで）。")])
    sweep_uploads()
    sha256 = hashlib.sha256(data).hexdigest()
    write_private(_stored(sha256, suffix), data)
    return sha256, suffix


def discard_upload(sha256: str, suffix: str) -> None:
    """Remove a stored upload (the admin cancelled, or it was refused); a name that is not
    an upload's is refused (UploadError), a file already gone is fine."""
    _stored(sha256, suffix).unlink(missing_ok=True)


def sweep_uploads(now: datetime | None = None) -> int:
    """Remove the uploads stored more than ``UPLOAD_MAX_AGE`` before ``now``; return how many.
    Called on every new upload and by every scheduler tick (``app.scheduler.tick``)."""
    folder = _upload_path()
    if not folder.is_dir():
        return 0
    cutoff = ((now or utcnow()) - UPLOAD_MAX_AGE).timestamp()
    removed = 0
    for path in folder.iterdir():
        if not _STORED_NAME.match(path.name):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # removed meanwhile (confirmed, cancelled, another sweep)
    if removed:
        log.info("removed %d roster upload(s) older than %s", removed, UPLOAD_MAX_AGE)
    return removed


def _check_scope(rows: list[RosterRow], scope: set[int] | None) -> None:
    """Every ward the file names must be one of the admin's; a new ward only for the city."""
    if is_city(scope):
        return
    names = sorted({row.ward for row in rows})
    found = dict(
        db.session.execute(sa.select(Ward.name, Ward.id).where(Ward.name.in_(names))).all()
    )
    outside = [name for name in names if name not in found or not covers(scope, [found[name]])]
    if outside:
        raise UploadError(
            [_("担当していない区の名簿は取り込めません: %(names)s", names="、".join(outside))],
            status=403,
        )


def _summary_digest(summary: RosterSummary, warnings: tuple[RosterWarning, ...] = ()) -> str:
    """What the admin saw: the summary, and the warnings' kinds and lines."""
    seen = {"summary": asdict(summary), "warnings": [(w.kind, w.lines) for w in warnings]}
    text = json.dumps(seen, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Outcome:
    summary: RosterSummary
    identity: IdentityCheck
    warnings: tuple[RosterWarning, ...]


def _run(path: Path, fiscal_year: int, scope: set[int] | None) -> _Outcome:
    try:
        rows = read_roster(path)
        _check_scope(rows, scope)
        identity = check_identity(rows, fiscal_year, scope)
        warnings = tuple(roster_warnings(rows, fiscal_year))
        summary = import_roster(rows, fiscal_year, keep_identity=identity.kept)
        return _Outcome(summary, identity, warnings)
    except RosterError as error:
        raise UploadError(error.errors) from error


# --- Identity: a person belongs to no single ward's file -------------------------------------


@dataclass(frozen=True)
class _Held:
    person_id: int
    name: str
    this_year_ward: int | None  # the ward of the person's assignment in the file's year
    earlier_ward: int | None  # the ward of their latest assignment before that year
    grants_outside: bool  # a grant the admin's scope does not cover (or a city-wide one)
    has_grant: bool


def _held(employee_ids: list[str], fiscal_year: int, scope: set[int]) -> dict[str, _Held]:
    """For the file's people already in the database: where they are, and what they hold."""
    held: dict[str, _Held] = {}
    for start in range(0, len(employee_ids), 500):
        chunk = employee_ids[start : start + 500]
        people = db.session.execute(
            sa.select(Person.employee_id, Person.id, Person.name).where(
                Person.employee_id.in_(chunk)
            )
        ).all()
        ids = [pid for _eid, pid, _name in people]
        places = _places(ids, fiscal_year)
        grants = _grants_of(ids)
        for eid, pid, name in people:
            this_year, earlier = places.get(pid, (None, None))
            wards = grants.get(pid, [])
            outside = any(w is None or w not in scope for w in wards)
            held[eid] = _Held(pid, name, this_year, earlier, outside, bool(wards))
    return held


def _places(person_ids: list[int], fiscal_year: int) -> dict[int, tuple[int | None, int | None]]:
    """Each person's ward in ``fiscal_year`` and in their latest earlier year."""
    rows = db.session.execute(
        sa.select(Assignment.person_id, Assignment.fiscal_year, Section.ward_id)
        .join(Section, Section.id == Assignment.section_id)
        .where(Assignment.person_id.in_(person_ids), Assignment.fiscal_year <= fiscal_year)
        .order_by(Assignment.person_id, Assignment.fiscal_year)
    ).all()
    places: dict[int, tuple[int | None, int | None]] = {}
    for pid, year, ward_id in rows:
        this_year, earlier = places.get(pid, (None, None))
        places[pid] = (ward_id, earlier) if year == fiscal_year else (this_year, ward_id)
    return places


def _grants_of(person_ids: list[int]) -> dict[int, list[int | None]]:
    grants: dict[int, list[int | None]] = {}
    for pid, ward_id in db.session.execute(
        sa.select(Grant.person_id, Grant.ward_id).where(Grant.person_id.in_(person_ids))
    ):
        grants.setdefault(pid, []).append(ward_id)
    return grants


def check_identity(
    rows: list[RosterRow], fiscal_year: int, scope: set[int] | None
) -> IdentityCheck:
    """The rule of who a ward admin's roster may take, and whose name and mail it may change.

    A city-wide admin (``scope`` None) and the command line may do anything. A ward admin's
    file may add people and take a person whose last assignment is in another ward (an April
    transfer), but it never changes the name or mail address of a person who holds any grant
    or who arrives from another ward (``kept``), and it is refused (RosterError, with the
    lines) for a person assigned this same year to a ward outside the admin's, or a person
    holding a grant outside the admin's wards who would move: that is another ward's
    authority, which only a city-wide admin moves.
    """
    if is_city(scope):
        return IdentityCheck()
    held = _held([row.employee_id for row in rows], fiscal_year, scope)
    ward_names: dict[int, str] = {
        w: n for w, n in db.session.execute(sa.select(Ward.id, Ward.name))
    }
    errors: list[str] = []
    kept: set[str] = set()
    moves: list[CrossWardMove] = []
    for row in rows:
        person = held.get(row.employee_id)
        if person is None:
            continue
        came_from = person.earlier_ward if person.this_year_ward is None else None
        if person.this_year_ward is not None and person.this_year_ward not in scope:
            errors.append(
                f"{row.line}行目: 職員番号 {row.employee_id} は同じ年度の"
                f"{ward_names[person.this_year_ward]}の名簿に載っています"
                "（その区の名簿から外れてから取り込むか、全市の管理者に依頼してください）"
            )
            continue
        arriving = came_from is not None and came_from not in scope
        never_placed = person.this_year_ward is None and person.earlier_ward is None
        if person.grants_outside and (arriving or never_placed):
            errors.append(
                f"{row.line}行目: 職員番号 {row.employee_id} はほかの区または全市の権限を"
                "持っているため、この名簿では取り込めません（全市の管理者が取り込みます）"
            )
            continue
        if person.has_grant or arriving:
            kept.add(row.employee_id)
        if arriving and came_from is not None:
            moves.append(CrossWardMove(row.employee_id, person.name, came_from,
                                       ward_names[came_from], row.ward))
    if errors:
        raise RosterError(errors)
    return IdentityCheck(frozenset(kept), tuple(moves))


def _log_moves(admin: Person, identity: IdentityCheck, fiscal_year: int) -> None:
    """One audit row per ward people were taken from, readable by that ward's admins."""
    by_ward: dict[int, list[str]] = {}
    for move in identity.moves:
        by_ward.setdefault(move.from_ward_id, []).append(move.employee_id)
    for ward_id, employee_ids in sorted(by_ward.items()):
        audit.record(
            "roster.transfer_out",
            actor=admin,
            target_type="roster",
            target_id=fiscal_year,
            after={"fiscal_year": fiscal_year, "employee_ids": sorted(employee_ids)},
            ward_id=ward_id,
        )


def preview_upload(sha256: str, suffix: str, fiscal_year: int, scope: set[int] | None) -> Preview:
    """Run the import of the stored file and roll it back: what would change, nothing written.
    UploadError lists every bad line (with its line number); the file is then removed."""
    path = _stored(sha256, suffix)
    try:
        outcome = _run(path, fiscal_year, scope)
    except UploadError:
        path.unlink(missing_ok=True)
        raise
    finally:
        db.session.rollback()
    return Preview(sha256, suffix, fiscal_year, outcome.summary,
                   _summary_digest(outcome.summary, outcome.warnings), outcome.identity,
                   outcome.warnings)


def confirm_upload(
    admin: Person,
    sha256: str,
    suffix: str,
    fiscal_year: int,
    summary_digest: str,
    scope: set[int] | None,
    acknowledged: bool = False,
) -> RosterSummary:
    """Import the previewed file for good (the caller commits) and log it. Refused (409) when
    the stored file changed since the preview or the import would now differ from it (its
    warnings included); refused (``NotAcknowledged``, the file kept) when the preview warned
    and ``acknowledged`` is False. The file is otherwise removed either way: imported, or
    refused (the admin uploads it again). The caller rolls back on UploadError."""
    path = _stored(sha256, suffix)
    try:
        outcome = _checked_import(path, sha256, fiscal_year, summary_digest, scope)
        if outcome.warnings and not acknowledged:
            raise NotAcknowledged([_("注意の内容を確かめて「確認しました」にチェックを入れてから、"
                                     "取り込んでください。")])
    except NotAcknowledged:
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)
    log_roster_import(admin, outcome.summary, sha256=sha256)
    _log_moves(admin, outcome.identity, fiscal_year)
    return outcome.summary


def _checked_import(
    path: Path, sha256: str, fiscal_year: int, summary_digest: str, scope: set[int] | None
) -> _Outcome:
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise UploadError(
            [_("確認の間に名簿のファイルが変わりました。もう一度アップロードしてください。")], 409
        )
    outcome = _run(path, fiscal_year, scope)
    if _summary_digest(outcome.summary, outcome.warnings) != summary_digest:
        raise UploadError(
            [_("確認の間にデータベースが変わり、取込みの結果が確認した内容と違います。"
               "もう一度アップロードして確認してください。")], 409
        )
    return outcome


def log_roster_import(
    admin: Person | None, summary: RosterSummary, *, sha256: str | None = None,
    source: str | None = None,
) -> None:
    """The audit row of a roster import, from the page (``sha256`` of the file) or the
    command line (``admin`` None, ``source`` the file's path)."""
    after: dict[str, object] = {"fiscal_year": summary.fiscal_year, "summary": summary.lines()}
    if sha256:
        after["sha256"] = sha256
    if source:
        after["source"] = source
    audit.record(
        "roster.import",
        actor=admin,
        target_type="roster",
        target_id=summary.fiscal_year,
        after=after,
        ward_id=_single_ward_id(summary),
    )


def _single_ward_id(summary: RosterSummary) -> int | None:
    ids = list(db.session.scalars(sa.select(Ward.id).where(Ward.name.in_(summary.wards))))
    return audit.single_ward(ids)


# --- What changes, person by person (the preview's lists) ----------------------------------------


@dataclass(frozen=True)
class Move:
    employee_id: str
    name: str
    before: str  # "区・課（役割）" last year, or ""
    after: str  # this file's, or ""


@dataclass(frozen=True)
class RosterChanges:
    """The preview's lists, compared with the previous fiscal year's roster: new people,
    transfers (from → to), role changes, leavers, and sections the file adds."""

    new_people: list[Move]
    transfers: list[Move]
    role_changes: list[Move]
    leavers: list[Move]
    sections_added: list[str]


def _place(ward: str, section: str, role: str) -> str:
    return f"{ward}・{section}（{'所属長' if role == 'chief' else '職員'}）"


def roster_changes(sha256: str, suffix: str, fiscal_year: int) -> RosterChanges:
    """Read the stored file (already previewed without errors) and compare it, read-only."""
    rows = read_roster(_stored(sha256, suffix))
    ids = [row.employee_id for row in rows]
    people = dict(
        db.session.execute(
            sa.select(Person.employee_id, Person.id).where(Person.employee_id.in_(ids))
        ).all()
    )
    wards = sorted({row.ward for row in rows})
    last_year = db.session.execute(
        sa.select(Person.employee_id, Person.name, Ward.name, Section.name, Assignment.role)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Section, Section.id == Assignment.section_id)
        .join(Ward, Ward.id == Section.ward_id)
        .where(Assignment.fiscal_year == fiscal_year - 1)
        .where(sa.or_(Ward.name.in_(wards), Person.employee_id.in_(ids)))
    ).all()
    before = {r[0]: r for r in last_year}
    existing_sections = {
        (w, s) for w, s in db.session.execute(
            sa.select(Ward.name, Section.name).join(Section, Section.ward_id == Ward.id)
        ).all()
    }
    changes = RosterChanges([], [], [], [], [])
    in_file = set(ids)
    for row in rows:
        after = _place(row.ward, row.section, row.role.value)
        if row.employee_id not in people:
            changes.new_people.append(Move(row.employee_id, row.name, "", after))
            continue
        previous = before.get(row.employee_id)
        if previous is None:
            continue
        _, _, ward, section, role = previous
        if (ward, section) != (row.ward, row.section):
            changes.transfers.append(
                Move(row.employee_id, row.name, _place(ward, section, role.value), after)
            )
        elif role != row.role:
            changes.role_changes.append(
                Move(row.employee_id, row.name, _place(ward, section, role.value), after)
            )
    for employee_id, name, ward, section, role in last_year:
        if employee_id not in in_file and ward in wards:
            changes.leavers.append(Move(employee_id, name, _place(ward, section, role.value), ""))
    added = sorted({(row.ward, row.section) for row in rows} - existing_sections)
    changes.sections_added.extend(f"{w}・{s}" for w, s in added)
    return changes
