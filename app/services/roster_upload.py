"""The roster uploaded in the browser: a preview that writes nothing, then a confirmation.

The page and ``flask roster import`` share the import itself (``read_roster`` and
``import_roster`` in ``app.services.roster``). The uploaded file is kept in the instance folder
under its SHA-256 (``roster-uploads/<sha256>.<csv|xlsx>``); the preview runs the import inside
the transaction and rolls it back, as ``--dry-run`` does, and hands the page the file's digest
and a digest of what the import would do. The confirmation names both: it is refused when the
stored file no longer has that SHA-256, or when the import would now do something else than the
admin saw (another import in between). Functions never commit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.access import covers
from app.extensions import db
from app.models import Assignment, Person, Section, Ward
from app.services import audit
from app.services.roster import RosterError, RosterRow, RosterSummary, import_roster, read_roster

SUFFIXES = (".csv", ".xlsx")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class UploadError(Exception):
    """The upload cannot be previewed or confirmed; ``errors`` are in the page's language
    (the roster's own line errors stay Japanese, as the CLI prints them)."""

    def __init__(self, errors: list[str], status: int = 400) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.status = status


@dataclass(frozen=True)
class Preview:
    """What the import would do, and the digests the confirmation must name."""

    sha256: str
    suffix: str
    fiscal_year: int
    summary: RosterSummary
    summary_digest: str


def upload_dir() -> Path:
    """Where uploads wait for their confirmation: ``ROSTER_UPLOAD_DIR``, by default
    ``instance/roster-uploads`` (a file is removed when its import is confirmed)."""
    configured = current_app.config.get("ROSTER_UPLOAD_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "roster-uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    sha256 = hashlib.sha256(data).hexdigest()
    _stored(sha256, suffix).write_bytes(data)
    return sha256, suffix


def _check_scope(rows: list[RosterRow], scope: set[int] | None) -> None:
    """Every ward the file names must be one of the admin's; a new ward only for the city."""
    if scope is None:
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


def _summary_digest(summary: RosterSummary) -> str:
    text = json.dumps(asdict(summary), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _run(path: Path, fiscal_year: int, scope: set[int] | None) -> RosterSummary:
    try:
        rows = read_roster(path)
        _check_scope(rows, scope)
        return import_roster(rows, fiscal_year)
    except RosterError as error:
        raise UploadError(error.errors) from error


def preview_upload(sha256: str, suffix: str, fiscal_year: int, scope: set[int] | None) -> Preview:
    """Run the import of the stored file and roll it back: what would change, nothing written.
    UploadError lists every bad line (with its line number)."""
    try:
        summary = _run(_stored(sha256, suffix), fiscal_year, scope)
    finally:
        db.session.rollback()
    return Preview(sha256, suffix, fiscal_year, summary, _summary_digest(summary))


def confirm_upload(
    admin: Person,
    sha256: str,
    suffix: str,
    fiscal_year: int,
    summary_digest: str,
    scope: set[int] | None,
) -> RosterSummary:
    """Import the previewed file for good (the caller commits) and log it. Refused (409) when
    the stored file changed since the preview or the import would now differ from it."""
    path = _stored(sha256, suffix)
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise UploadError(
            [_("確認の間に名簿のファイルが変わりました。もう一度アップロードしてください。")], 409
        )
    summary = _run(path, fiscal_year, scope)
    if _summary_digest(summary) != summary_digest:
        raise UploadError(
            [_("確認の間にデータベースが変わり、取込みの結果が確認した内容と違います。"
               "もう一度確認してください。")], 409
        )
    log_roster_import(admin, summary, sha256=sha256)
    path.unlink(missing_ok=True)
    return summary


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
