"""Standards catalogues: load ``surveys/*.yaml`` into the database, and list what is there.

Reading and checking the files is ``app/services/catalogue/reading.py`` (``read_catalogues``) and
``app/services/catalogue/parsing.py`` (one file). A catalogue file describes one fiscal year's
list of standards, city-wide or for one ward, and may take its standards from another catalogue
of the same directory (``extends`` with ``only`` or ``exclude`` and ``overrides``). The schema and
its rules are in ``docs/catalogue.md``.

Reading collects every error of every file before giving up (:class:`CatalogueError`); loading
validates everything first, then checks that no standard which already has answers would change
its text, scene or audience or disappear, and that no catalogue with rounds would change its
ward, and only then writes. Like every service it flushes but
never commits: the caller (the ``flask catalogue load`` command, the demo builder) commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models import (
    Answer,
    Catalogue,
    Round,
    SectionAnswer,
    SectionKind,
    Standard,
    Ward,
    utcnow,
)
from app.services.catalogue.parsing import (
    CatalogueError,
    CatalogueSpec,
    StandardSpec,
)
from app.services.catalogue.reading import read_catalogues

LoadStatus = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True)
class LoadResult:
    """What loading did to one catalogue: ``added``, ``updated`` or ``unchanged``."""

    key: str
    status: LoadStatus
    count: int
    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass(frozen=True)
class CatalogueSummary:
    """A loaded catalogue as ``flask catalogue list`` shows it."""

    key: str
    title: str
    fiscal_year: int
    ward: str | None
    count: int


# --- Loading into the database --------------------------------------------------------------


@dataclass
class _Plan:
    """What loading one catalogue will change, worked out before anything is written."""

    spec: CatalogueSpec
    catalogue: Catalogue | None
    catalogue_changed: bool = False
    to_add: list[tuple[int, StandardSpec]] = field(default_factory=list)
    to_update: list[tuple[Standard, int, StandardSpec]] = field(default_factory=list)
    to_remove: list[Standard] = field(default_factory=list)

    @property
    def status(self) -> LoadStatus:
        if self.catalogue is None:
            return "added"
        changed = self.catalogue_changed or self.to_add or self.to_update or self.to_remove
        return "updated" if changed else "unchanged"


def _standard_differs(row: Standard, position: int, spec: StandardSpec) -> bool:
    return (
        row.number != spec.number
        or row.position != position
        or row.text != spec.text
        or row.scene != spec.scene
        or row.audience != spec.audience
        or row.ward_specific != spec.ward_specific
        or tuple(sorted(k.name for k in row.section_kinds)) != tuple(sorted(spec.section_kinds))
    )


def _plan(spec: CatalogueSpec, catalogue: Catalogue | None) -> _Plan:
    """Compare a catalogue read from its file with its rows in the database, if any."""
    plan = _Plan(spec=spec, catalogue=catalogue)
    if catalogue is None:
        plan.to_add = list(enumerate(spec.standards, start=1))
        return plan
    ward_name = catalogue.ward.name if catalogue.ward is not None else None
    plan.catalogue_changed = (
        catalogue.title != spec.title
        or catalogue.fiscal_year != spec.fiscal_year
        or catalogue.source != spec.source
        or ward_name != spec.ward
    )
    rows = {row.key: row for row in catalogue.standards}
    for position, std in enumerate(spec.standards, start=1):
        row = rows.get(std.key)
        if row is None:
            plan.to_add.append((position, std))
        elif _standard_differs(row, position, std):
            plan.to_update.append((row, position, std))
    keep = {std.key for std in spec.standards}
    plan.to_remove = [row for row in catalogue.standards if row.key not in keep]
    return plan


def _refusals(plan: _Plan, answered: set[int]) -> list[str]:
    """Changes that would rewrite or drop a standard people have already answered."""
    where = f"{plan.spec.path}: カタログ {plan.spec.key} の"
    messages: list[str] = []
    for row, _position, std in plan.to_update:
        if row.id not in answered:
            continue
        what = [
            name
            for name, old, new in (
                ("文 (text)", row.text, std.text),
                ("場面 (scene)", row.scene, std.scene),
                ("audience", row.audience, std.audience),
            )
            if old != new
        ]
        if what:
            messages.append(
                f"{where}基準 No.{row.number} ({row.key}) にはすでに回答があるため、"
                f"{'・'.join(what)} を変更できません（変えるなら新しい key の基準か"
                "新しいカタログにしてください）"
            )
    for row in plan.to_remove:
        if row.id in answered:
            messages.append(
                f"{where}基準 No.{row.number} ({row.key}) にはすでに回答があるため、"
                "カタログから外せません"
            )
    return messages


def _ward_refusal(plan: _Plan, rounds: dict[int, list[tuple[int, str]]]) -> list[str]:
    """A catalogue with rounds keeps its ward: a new ``ward:`` would move the rounds' published
    standards (and their answers) to another ward without a word."""
    catalogue = plan.catalogue
    if catalogue is None or catalogue.id not in rounds:
        return []
    before = catalogue.ward.name if catalogue.ward is not None else None
    if before == plan.spec.ward:
        return []
    named = "、".join(f"#{round_id} {title}" for round_id, title in rounds[catalogue.id])
    return [
        f"{plan.spec.path}: カタログ {plan.spec.key} にはすでに調査があるため（{named}）、"
        f"区を {before or '全区共通'} から {plan.spec.ward or '全区共通'} に変えられません"
        "（区を変えるなら新しい key のカタログにしてください）"
    ]


def _rounds_by_catalogue(catalogue_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """The rounds (id, title) of each of these catalogues that has any, oldest first."""
    if not catalogue_ids:
        return {}
    found: dict[int, list[tuple[int, str]]] = {}
    query = (
        sa.select(Round.catalogue_id, Round.id, Round.title)
        .where(Round.catalogue_id.in_(catalogue_ids))
        .order_by(Round.id)
    )
    for catalogue_id, round_id, title in db.session.execute(query):
        found.setdefault(catalogue_id, []).append((round_id, title))
    return found


def _answered_standard_ids(catalogue_ids: list[int]) -> set[int]:
    """Ids of the standards of these catalogues that have an answer or a section answer."""
    if not catalogue_ids:
        return set()
    query = (
        sa.select(Standard.id)
        .where(Standard.catalogue_id.in_(catalogue_ids))
        .where(
            sa.or_(
                sa.exists().where(Answer.standard_id == Standard.id),
                sa.exists().where(SectionAnswer.standard_id == Standard.id),
            )
        )
    )
    return set(db.session.scalars(query))


def _wards_by_name(names: set[str]) -> dict[str, Ward]:
    """The wards with these names, creating the missing ones."""
    if not names:
        return {}
    found = {w.name: w for w in db.session.scalars(sa.select(Ward).where(Ward.name.in_(names)))}
    for name in sorted(names - found.keys()):
        found[name] = Ward(name=name)
        db.session.add(found[name])
    return found


def _kinds_by_name(names: set[str]) -> dict[str, SectionKind]:
    """The section kinds with these names, creating the missing ones."""
    if not names:
        return {}
    query = sa.select(SectionKind).where(SectionKind.name.in_(names))
    found = {k.name: k for k in db.session.scalars(query)}
    for name in sorted(names - found.keys()):
        found[name] = SectionKind(name=name)
        db.session.add(found[name])
    return found


def _new_standard(position: int, std: StandardSpec, kinds: dict[str, SectionKind]) -> Standard:
    return Standard(
        key=std.key,
        number=std.number,
        position=position,
        text=std.text,
        scene=std.scene,
        audience=std.audience,
        ward_specific=std.ward_specific,
        section_kinds=[kinds[name] for name in std.section_kinds],
    )


def upsert_catalogues(specs: Sequence[CatalogueSpec]) -> list[LoadResult]:
    """Write catalogues that ``read_catalogues`` returned; flushes, never commits.

    Catalogues and standards are matched by key. Raises :class:`CatalogueError`, having
    written nothing, when a standard that already has answers would change its text, scene or
    audience or be removed, or when a catalogue that has rounds would change its ward.
    """
    existing = _stored_catalogues([spec.key for spec in specs])
    catalogue_ids = [c.id for c in existing.values()]
    answered = _answered_standard_ids(catalogue_ids)
    rounds = _rounds_by_catalogue(catalogue_ids)
    plans = [_plan(spec, existing.get(spec.key)) for spec in specs]
    refusals = [
        message
        for plan in plans
        for message in (*_ward_refusal(plan, rounds), *_refusals(plan, answered))
    ]
    if refusals:
        raise CatalogueError(refusals)

    changing = [plan for plan in plans if plan.status != "unchanged"]
    wards = _wards_by_name({p.spec.ward for p in changing if p.spec.ward is not None})
    kinds = _kinds_by_name(
        {k for p in changing for std in p.spec.standards for k in std.section_kinds}
    )
    now = utcnow()
    _free_numbers(changing)
    for plan in changing:
        _write_plan(plan, wards, kinds, now)
    if changing:
        db.session.flush()

    return [
        LoadResult(
            key=plan.spec.key,
            status=plan.status,
            count=len(plan.spec.standards),
            added=len(plan.to_add),
            changed=len(plan.to_update),
            removed=len(plan.to_remove),
        )
        for plan in plans
    ]


def _stored_catalogues(keys: list[str]) -> dict[str, Catalogue]:
    """The catalogues with these keys, with their ward and standards (and their kinds)."""
    return {
        c.key: c
        for c in db.session.scalars(
            sa.select(Catalogue)
            .where(Catalogue.key.in_(keys))
            .options(
                so.selectinload(Catalogue.ward),
                so.selectinload(Catalogue.standards).selectinload(Standard.section_kinds),
            )
        )
    }


def _free_numbers(changing: Sequence[_Plan]) -> None:
    """Remove the standards to remove and give the renumbered ones a temporary number, each
    step flushed, so that the unique (catalogue, number) never sees two rows with one number
    in between."""
    removed = False
    for plan in changing:
        if plan.catalogue is not None:
            for row in plan.to_remove:
                plan.catalogue.standards.remove(row)
                removed = True
    if removed:
        db.session.flush()
    renumbered = False
    for plan in changing:
        for row, _position, std in plan.to_update:
            if row.number != std.number:
                row.number = -row.id
                renumbered = True
    if renumbered:
        db.session.flush()


def _write_plan(
    plan: _Plan, wards: dict[str, Ward], kinds: dict[str, SectionKind], now: datetime
) -> None:
    """Add or update one catalogue and its standards as its file says (not flushed)."""
    spec = plan.spec
    catalogue = plan.catalogue
    if catalogue is None:
        catalogue = Catalogue(key=spec.key)
        db.session.add(catalogue)
    catalogue.title = spec.title
    catalogue.fiscal_year = spec.fiscal_year
    catalogue.source = spec.source
    catalogue.ward = wards[spec.ward] if spec.ward is not None else None
    catalogue.loaded_at = now
    for row, position, std in plan.to_update:
        row.number = std.number
        row.position = position
        row.text = std.text
        row.scene = std.scene
        row.audience = std.audience
        row.ward_specific = std.ward_specific
        if tuple(sorted(k.name for k in row.section_kinds)) != tuple(sorted(std.section_kinds)):
            row.section_kinds = [kinds[name] for name in std.section_kinds]
    for position, std in plan.to_add:
        catalogue.standards.append(_new_standard(position, std, kinds))


def load_catalogues(path: str | Path) -> list[LoadResult]:
    """Validate a catalogue file or directory, then add or update its catalogues.

    Idempotent: loading the same files again reports every catalogue ``unchanged`` and writes
    nothing. Raises :class:`CatalogueError` (with every error, nothing written) when a file is
    invalid or when a change would touch a standard that already has answers. Never commits.
    """
    return upsert_catalogues(read_catalogues(path))


def public_catalogues() -> list[Catalogue]:
    """Every published catalogue, newest year first (the public home page; drafts are not)."""
    return list(
        db.session.scalars(
            sa.select(Catalogue)
            .where(Catalogue.published_at.is_not(None))
            .order_by(Catalogue.fiscal_year.desc(), Catalogue.key)
        )
    )


def catalogue_with_standards(key: str) -> tuple[Catalogue, list[Standard]] | None:
    """A catalogue and its standards in order with their section kinds (two queries), or
    None when no published catalogue has that key."""
    found = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == key))
    if found is None or found.published_at is None:
        return None
    standards = db.session.scalars(
        sa.select(Standard)
        .where(Standard.catalogue_id == found.id)
        .options(so.selectinload(Standard.section_kinds))
        .order_by(Standard.position)
    ).all()
    return found, list(standards)


def list_catalogues() -> list[CatalogueSummary]:
    """The loaded catalogues with their ward and number of standards, oldest year first."""
    count = sa.func.count(Standard.id)
    query = (
        sa.select(Catalogue.key, Catalogue.title, Catalogue.fiscal_year, Ward.name, count)
        .outerjoin(Ward, Catalogue.ward_id == Ward.id)
        .outerjoin(Standard, Standard.catalogue_id == Catalogue.id)
        .group_by(Catalogue.id, Catalogue.key, Catalogue.title, Catalogue.fiscal_year, Ward.name)
        .order_by(Catalogue.fiscal_year, Catalogue.key)
    )
    return [
        CatalogueSummary(key=key, title=title, fiscal_year=year, ward=ward, count=n)
        for key, title, year, ward, n in db.session.execute(query)
    ]

