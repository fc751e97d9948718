"""Next year's standards in the browser: a ward's catalogue copied as a draft, edited, previewed,
published, and exported to YAML (docs/catalogue.md, "In the browser").

A draft is a ``Catalogue`` whose ``published_at`` is None: rounds cannot use it (the round form
does not offer it, ``rounds.create_round`` refuses it) and the public pages do not show it.

Every change goes through the rules of ``flask catalogue load``, not a copy of them: the
catalogue as it would be after the change is written out as a catalogue file
(:func:`catalogue_document`), read back with ``reading.read_catalogues`` (every check of the
file format: keys, numbers, scenes, audiences, section kinds…) and written with
``catalogues.upsert_catalogues`` (which refuses to reword, move to another scene or audience, or
drop a standard that already has answers). The export is the same document, so what the browser
built loads back identically.

The ward edits its own standards (``ward_specific``); the city's shared standards keep the city
catalogue's text, scene and audience and may only be renumbered. A new standard gets a new key
that no catalogue has used, and keeps it in the following years' copies.

Like every service it flushes but never commits; the caller writes the audit row and commits.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
import yaml
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    SECTION_KINDS,
    Audience,
    Catalogue,
    Section,
    SectionKind,
    Standard,
    Ward,
    section_kind_link,
    utcnow,
)
from app.services.catalogue import catalogues, parsing, reading
from app.services.catalogue.catalogues import LoadResult
from app.services.catalogue.parsing import CatalogueSpec, StandardSpec
from app.services.errors import DomainError
from app.services.rounds.checklist import ChecklistItem
from app.services.rounds.checklist_page import asked_items
from app.wareki import fiscal_year_label

MAX_STANDARDS = 100  # a catalogue's standards; the city's list has 36
TEXT_MAX_LENGTH = 500  # a standard's text; the city's longest is about 90 characters
NUMBER_MAX = 999


class DraftError(DomainError):
    """A change to a catalogue is refused; ``errors`` says why, one message per problem."""


@dataclass(frozen=True)
class WardCatalogue:
    """A ward's catalogue as the admin's list shows it."""

    key: str
    title: str
    fiscal_year: int
    ward: str
    count: int
    published_at: datetime | None

    @property
    def is_draft(self) -> bool:
        return self.published_at is None


@dataclass(frozen=True)
class StandardChange:
    """What the form sends for one standard: its number, text, scene, audience and kinds."""

    number: int
    text: str
    scene: str
    audience: str
    section_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Viewer:
    """Someone whose checklist the preview shows: staff, or the chief of a kind of section.

    ``section_id`` is the section whose kinds the checklist's query matches (a real section of
    the ward that has ``kind``; -1, which no section has, for a section of no kind); None when
    the ward has no section of that kind, so nobody would see that checklist."""

    code: str
    chief: bool
    kind: str | None
    section_name: str | None
    section_id: int | None


@dataclass(frozen=True)
class Comparison:
    """A draft beside the ward's catalogue of an earlier year, by standard key."""

    previous: Catalogue | None
    added: list[Standard]
    reworded: list[Standard]
    retired: list[Standard]


# --- Finding catalogues --------------------------------------------------------------------


def ward_catalogues(ward_ids: Collection[int] | None) -> list[WardCatalogue]:
    """The ward catalogues of these wards (None: every ward), newest year first, drafts too."""
    count = sa.func.count(Standard.id)
    query = (
        sa.select(Catalogue, Ward.name, count)
        .join(Ward, Catalogue.ward_id == Ward.id)
        .outerjoin(Standard, Standard.catalogue_id == Catalogue.id)
        .group_by(Catalogue.id, Ward.name)
        .order_by(Catalogue.fiscal_year.desc(), Catalogue.key)
    )
    if ward_ids is not None:
        query = query.where(Catalogue.ward_id.in_(list(ward_ids)))
    return [
        WardCatalogue(c.key, c.title, c.fiscal_year, ward, n, c.published_at)
        for c, ward, n in db.session.execute(query)
    ]


def ward_catalogue(key: str, ward_ids: Collection[int] | None) -> Catalogue | None:
    """The ward catalogue with this key if it belongs to one of these wards (None: every ward);
    None for a city-wide catalogue, another ward's or an unknown key (the page answers 404 to
    all three alike, so nobody learns what other wards prepare)."""
    found = db.session.scalar(
        sa.select(Catalogue)
        .where(Catalogue.key == key, Catalogue.ward_id.is_not(None))
        .options(so.selectinload(Catalogue.standards).selectinload(Standard.section_kinds))
    )
    if found is None or found.ward_id is None:
        return None
    if ward_ids is not None and found.ward_id not in ward_ids:
        return None
    return found


def catalogue_values(catalogue: Catalogue) -> dict[str, Any]:
    """What the audit log keeps of a catalogue: key, year, ward, state, number of standards."""
    return {
        "key": catalogue.key,
        "title": catalogue.title,
        "fiscal_year": catalogue.fiscal_year,
        "ward_id": catalogue.ward_id,
        "published": catalogue.published_at is not None,
        "standards": len(catalogue.standards),
    }


def standard_values(standard: StandardSpec | Standard | None) -> dict[str, Any] | None:
    """What the audit log keeps of one standard (None when there is none)."""
    if standard is None:
        return None
    kinds = standard.section_kinds
    return {
        "key": standard.key,
        "number": standard.number,
        "text": standard.text,
        "scene": standard.scene,
        "audience": str(standard.audience),
        "section_kinds": sorted(k if isinstance(k, str) else k.name for k in kinds),
        "ward_specific": standard.ward_specific,
    }


# --- The catalogue as a file ------------------------------------------------------------------


def _specs(catalogue: Catalogue) -> list[StandardSpec]:
    """The catalogue's standards in display order, as a catalogue file describes them."""
    return [
        StandardSpec(
            key=row.key,
            number=row.number,
            text=row.text,
            scene=row.scene,
            audience=Audience(row.audience),
            section_kinds=tuple(sorted(k.name for k in row.section_kinds)),
            ward_specific=row.ward_specific,
        )
        for row in sorted(catalogue.standards, key=lambda s: (s.position, s.number))
    ]


def catalogue_document(
    key: str,
    title: str,
    fiscal_year: int,
    ward: str | None,
    source: str | None,
    standards: Sequence[StandardSpec],
) -> dict[str, Any]:
    """A catalogue as the mapping of a ``surveys/*.yaml`` file, every standard written out in
    full (no ``extends``), ``ward_specific`` always given."""
    document: dict[str, Any] = {"key": key, "title": title, "fiscal_year": fiscal_year}
    if ward is not None:
        document["ward"] = ward
    document["source"] = source or key
    items = []
    for spec in standards:
        item: dict[str, Any] = {
            "number": spec.number,
            "key": spec.key,
            "text": spec.text,
            "scene": spec.scene,
            "audience": str(spec.audience),
        }
        if spec.section_kinds:
            item["section_kinds"] = list(spec.section_kinds)
        item["ward_specific"] = spec.ward_specific
        items.append(item)
    document["standards"] = items
    return document


def _dump(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(
        dict(document), allow_unicode=True, sort_keys=False, width=10_000, default_flow_style=None
    )


def export_yaml(catalogue: Catalogue, now: datetime | None = None) -> str:
    """The catalogue as a ``surveys/`` file that ``flask catalogue load`` reads back as it is."""
    ward = catalogue.ward.name if catalogue.ward is not None else None
    document = catalogue_document(
        catalogue.key, catalogue.title, catalogue.fiscal_year, ward, catalogue.source,
        _specs(catalogue),
    )
    state = "下書き (draft)" if catalogue.is_draft else "公開済み (published)"
    stamp = (now or utcnow()).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"# {catalogue.title} — exported from Kijun on {stamp}, {state}.\n"
        "# Every standard is written out (no extends); schema and rules: docs/catalogue.md.\n\n"
    )
    return header + _dump(document)


def _validated(document: Mapping[str, Any]) -> CatalogueSpec:
    """The document read by ``reading.read_catalogues``, or DraftError with its messages.

    The reader takes a file, so the document is written to a private temporary directory
    first; the file's name is taken out of the messages again."""
    with tempfile.TemporaryDirectory(prefix="kijun-catalogue-") as directory:
        path = Path(directory) / "catalogue.yaml"
        path.write_text(_dump(document), encoding="utf-8")
        try:
            return reading.read_catalogues(path)[0]
        except parsing.CatalogueError as error:
            raise DraftError([_strip(message, path) for message in error.errors]) from error


def _strip(message: str, path: Path) -> str:
    for prefix in (f"{path}: ", f"{path.parent}: "):
        message = message.replace(prefix, "")
    return message


def _write(catalogue: Catalogue, standards: Sequence[StandardSpec]) -> LoadResult:
    """Check the catalogue with these standards as ``catalogue load`` would, then write it."""
    if len(standards) > MAX_STANDARDS:
        raise DraftError(_("基準は %(max)s 件までです。", max=MAX_STANDARDS))
    ward = catalogue.ward.name if catalogue.ward is not None else None
    spec = _validated(
        catalogue_document(
            catalogue.key, catalogue.title, catalogue.fiscal_year, ward, catalogue.source,
            standards,
        )
    )
    try:
        return catalogues.upsert_catalogues([spec])[0]
    except parsing.CatalogueError as error:
        where = f"{spec.path}: "
        raise DraftError([m.replace(where, "") for m in error.errors]) from error


# --- Creating next year's draft ---------------------------------------------------------------


def next_year_defaults(source: Catalogue) -> tuple[str, str]:
    """The key and title proposed for the draft of the year after ``source``: the year in the
    key and the 令和 year in the title moved on by one (``takatsu-2025`` → ``takatsu-2026``)."""
    year = source.fiscal_year + 1
    old = str(source.fiscal_year)
    if source.key.endswith(f"-{old}"):
        key = f"{source.key[: -len(old)]}{year}"
    else:
        key = f"{source.key[: parsing.KEY_MAX_LENGTH - 5]}-{year}"
    title = source.title.replace(fiscal_year_label(source.fiscal_year), fiscal_year_label(year))
    if title == source.title:
        title = f"{fiscal_year_label(year)} {source.title}"[: parsing.TITLE_MAX_LENGTH]
    return key, title


def create_next_year(source: Catalogue, key: str, title: str) -> Catalogue:
    """A draft for the year after ``source``, in the same ward, with the same standards and
    keys. Raises DraftError (nothing written) when the key is taken or the file rules refuse
    the key or the title. Flushes, never commits."""
    key, title = key.strip(), title.strip()
    if source.ward is None:
        raise DraftError(_("全区共通のカタログは、画面からは写せません。"))
    taken = db.session.scalar(sa.select(Catalogue.id).where(Catalogue.key == key))
    if taken is not None:
        raise DraftError(
            _("キー「%(key)s」のカタログはすでにあります。ほかのキーにしてください。", key=key)
        )
    fiscal_year = source.fiscal_year + 1
    origin = f"{source.key} を写して Kijun の画面で作成"
    specs = _specs(source)
    _validated(
        catalogue_document(key, title, fiscal_year, source.ward.name, origin, specs)
    )
    draft = Catalogue(
        key=key,
        title=title,
        fiscal_year=fiscal_year,
        ward=source.ward,
        source=origin,
    )
    db.session.add(draft)
    db.session.flush()
    # Set after the INSERT: the column's default (published, for `catalogue load`) would
    # otherwise replace a None given to the constructor.
    draft.published_at = None
    db.session.flush()
    _write(draft, specs)
    db.session.refresh(draft)
    return draft


# --- Editing standards --------------------------------------------------------------------------


def _find(specs: list[StandardSpec], key: str) -> int:
    for index, spec in enumerate(specs):
        if spec.key == key:
            return index
    raise DraftError(_("基準「%(key)s」はこのカタログにありません。", key=key))


def _refuse_city_standard(spec: StandardSpec) -> None:
    if not spec.ward_specific:
        raise DraftError(
            _(
                "No.%(number)s は全区共通の基準です。文・場面・対象は市のカタログで決まるため、"
                "区では番号だけ変えられます。",
                number=spec.number,
            )
        )


def _by_number(specs: list[StandardSpec]) -> list[StandardSpec]:
    return sorted(specs, key=lambda s: s.number)


def _new_key(catalogue: Catalogue, specs: Sequence[StandardSpec]) -> str:
    """A key no catalogue has used: ``<catalogue key>-<n>``, e.g. ``takatsu-2026-1``."""
    base = catalogue.key[: parsing.KEY_MAX_LENGTH - 4]
    used = set(
        db.session.scalars(sa.select(Standard.key).where(Standard.key.like(f"{base}-%")))
    ) | {s.key for s in specs}
    n = 1
    while f"{base}-{n}" in used:
        n += 1
    return f"{base}-{n}"


def _spec_of(change: StandardChange, key: str) -> StandardSpec:
    """The standard as the form gave it; the file rules check the values afterwards."""
    return StandardSpec(
        key=key,
        number=change.number,
        text=change.text,
        scene=change.scene,
        audience=change.audience,  # type: ignore[arg-type]  # checked by read_catalogues
        section_kinds=tuple(change.section_kinds),
        ward_specific=True,
    )


def _check_change(change: StandardChange) -> None:
    problems = []
    if not 1 <= change.number <= NUMBER_MAX:
        problems.append(_("番号は 1 から %(max)s までにしてください。", max=NUMBER_MAX))
    if len(change.text.strip()) > TEXT_MAX_LENGTH:
        problems.append(_("基準の文は %(max)s 文字までにしてください。", max=TEXT_MAX_LENGTH))
    if problems:
        raise DraftError(problems)


def add_standard(catalogue: Catalogue, change: StandardChange) -> StandardSpec:
    """Add a ward standard with a new key; the list is kept in number order. Flushes."""
    _check_change(change)
    specs = _specs(catalogue)
    added = _spec_of(change, _new_key(catalogue, specs))
    _write(catalogue, _by_number([*specs, added]))
    return added


def update_standard(
    catalogue: Catalogue, key: str, change: StandardChange
) -> tuple[StandardSpec, StandardSpec]:
    """Change a ward standard's number, text, scene, audience and kinds (a city standard's
    number only); the list is kept in number order. Returns (before, after). Flushes."""
    _check_change(change)
    specs = _specs(catalogue)
    index = _find(specs, key)
    before = specs[index]
    if before.ward_specific:
        after = replace(_spec_of(change, key), ward_specific=True)
    else:
        changed = (
            change.text.strip() != before.text
            or change.scene != before.scene
            or change.audience != str(before.audience)
            or tuple(sorted(change.section_kinds)) != before.section_kinds
        )
        if changed:
            _refuse_city_standard(before)
        after = replace(before, number=change.number)
    specs[index] = after
    _write(catalogue, _by_number(specs) if after.number != before.number else specs)
    return before, after


def retire_standard(catalogue: Catalogue, key: str) -> StandardSpec:
    """Take a ward standard out of the catalogue. Refused for a city standard and for one
    with answers. Its key is given again only if no catalogue has it any more (a standard
    that was only ever in this draft): a key that another year's catalogue holds is never
    reused."""
    specs = _specs(catalogue)
    index = _find(specs, key)
    retired = specs.pop(index)
    _refuse_city_standard(retired)
    _write(catalogue, specs)
    return retired


def renumber(catalogue: Catalogue, numbers: Mapping[str, int]) -> list[tuple[str, int, int]]:
    """Give standards new numbers (by key; the others keep theirs) and order the list by number.
    Returns the (key, old, new) of each standard whose number changed. Flushes."""
    specs = _specs(catalogue)
    unknown = set(numbers) - {s.key for s in specs}
    if unknown:
        raise DraftError(_("基準「%(key)s」はこのカタログにありません。", key=sorted(unknown)[0]))
    bad = [n for n in numbers.values() if not 1 <= n <= NUMBER_MAX]
    if bad:
        raise DraftError(_("番号は 1 から %(max)s までにしてください。", max=NUMBER_MAX))
    renumbered = [replace(s, number=numbers.get(s.key, s.number)) for s in specs]
    moved = [(old.key, old.number, new.number) for old, new in zip(specs, renumbered, strict=True)
             if old.number != new.number]
    _write(catalogue, _by_number(renumbered))
    return moved


# --- Publishing ----------------------------------------------------------------------------------


def compare_with_previous(catalogue: Catalogue) -> Comparison:
    """The catalogue beside the same ward's latest published catalogue of an earlier year."""
    previous = db.session.scalar(
        sa.select(Catalogue)
        .where(
            Catalogue.ward_id == catalogue.ward_id,
            Catalogue.fiscal_year < catalogue.fiscal_year,
            Catalogue.published_at.is_not(None),
        )
        .order_by(Catalogue.fiscal_year.desc(), Catalogue.id.desc())
        .limit(1)
    )
    if previous is None:
        return Comparison(None, [], [], [])
    old = {s.key: s for s in previous.standards}
    new = {s.key for s in catalogue.standards}
    return Comparison(
        previous=previous,
        added=[s for s in catalogue.standards if s.key not in old],
        reworded=[s for s in catalogue.standards if s.key in old and old[s.key].text != s.text],
        retired=[s for s in previous.standards if s.key not in new],
    )


def publish(catalogue: Catalogue, now: datetime | None = None) -> None:
    """Make a draft usable for rounds, after checking it once more with the file rules.
    Raises DraftError when it is already published or breaks a rule. Flushes."""
    if not catalogue.is_draft:
        raise DraftError(_("このカタログはすでに公開しています。"))
    _write(catalogue, _specs(catalogue))
    catalogue.published_at = now or utcnow()
    db.session.flush()


# --- Preview --------------------------------------------------------------------------------------

STAFF = "staff"
CHIEF = "chief"


def preview_viewers(catalogue: Catalogue) -> list[Viewer]:
    """Staff, the chief of a section of no kind, and the chief of each kind of section (with
    the first section of that kind in the catalogue's ward, if it has one)."""
    viewers = [
        Viewer(STAFF, chief=False, kind=None, section_name=None, section_id=-1),
        Viewer(CHIEF, chief=True, kind=None, section_name=None, section_id=-1),
    ]
    rows = db.session.execute(
        sa.select(SectionKind.name, Section.id, Section.name)
        .join(section_kind_link, section_kind_link.c.kind_id == SectionKind.id)
        .join(Section, Section.id == section_kind_link.c.section_id)
        .where(Section.ward_id == catalogue.ward_id)
        .order_by(Section.sort_order, Section.id)
    ).all()
    first: dict[str, tuple[int, str]] = {}
    for kind, section_id, name in rows:
        first.setdefault(kind, (section_id, name))
    for kind in SECTION_KINDS:
        kind_section_id, kind_section = first.get(kind) or (None, None)
        viewers.append(Viewer(f"{CHIEF}:{kind}", True, kind, kind_section, kind_section_id))
    return viewers


def preview_items(catalogue: Catalogue, viewer: Viewer) -> list[ChecklistItem]:
    """The standards ``viewer`` would be asked, in order: the checklist's own query
    (``checklist_page.asked_items``) on this catalogue, without answers. Nothing is written."""
    if viewer.section_id is None:
        return []
    return asked_items(
        catalogue.id,
        viewer.section_id,
        chief=viewer.chief,
        city_wide=catalogue.ward_id is None,
    )
