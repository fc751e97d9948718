"""The organisation a roster names: its wards, departments, section kinds and sections.

``sync_organisation`` creates what is missing and puts departments and sections in the file's
order, with a constant number of statements per import (bulk lookups and inserts). Called by
``app/services/organisation/roster.py`` ``import_roster``; it flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import SECTION_KINDS, Department, Section, SectionKind, Ward, section_kind_link
from app.services.organisation.roster_file import RosterError, RosterRow, name_key, value_problems

# Employee ids per ``IN (...)`` lookup: far below SQLite's 32,766 and PostgreSQL's 65,535
# parameters, so 20,000 people take 4 lookups.
LOOKUP_CHUNK = 5000


def bulk_insert(model: type[Any]) -> sa.Insert:
    """An ORM bulk INSERT that keeps rows with None values in the same batch.

    Without ``render_nulls`` the ORM starts a new statement whenever the set of non-None
    values changes (say, a person without email after one with), which would make the number
    of statements grow with the number of people.
    """
    return sa.insert(model).execution_options(render_nulls=True)


def chunks(items: Sequence[Any], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class Organisation:
    """Ids of the file's wards and sections, and what was created or changed."""

    ward_ids: dict[str, int]  # ward key -> id
    section_ids: dict[tuple[int, str], int]  # (ward id, section key) -> id
    section_names: dict[int, str]  # section id -> name, for the wards of the file
    wards_created: int = 0
    departments_created: int = 0
    sections_created: int = 0
    sections_updated: int = 0


def sync_organisation(rows: Sequence[RosterRow]) -> Organisation:
    """Create the missing wards, departments, section kinds and sections; update the sections.

    A section is found by (ward, name); it takes this file's department, its kinds (when the
    file has the column) and a ``sort_order`` following its first appearance in the file, as
    do the departments. One step per level, in this order (each needs the ids of the one
    before): wards, departments, section kinds, sections.
    """
    org = _sync_wards(rows)
    wanted_departments, wanted_sections = _wanted_organisation(rows, org.ward_ids)
    departments = _sync_departments(wanted_departments, org)
    kind_ids = _sync_section_kinds(rows)
    _sync_sections(wanted_sections, departments, kind_ids, org)
    return org


def _sync_wards(rows: Sequence[RosterRow]) -> Organisation:
    """Create the file's wards that do not exist (after the others in ``sort_order``); the
    organisation starts with the ids of the file's wards."""
    ward_names: dict[str, str] = {}
    for row in rows:
        ward_names.setdefault(name_key(row.ward), row.ward)
    # The whole (small) table.
    wards: dict[str, tuple[int, int]] = {
        name_key(name): (id_, order)
        for id_, name, order in db.session.execute(sa.select(Ward.id, Ward.name, Ward.sort_order))
    }
    new_wards = [key for key in ward_names if key not in wards]
    if new_wards:
        next_order = max((order for _id, order in wards.values()), default=0) + 1
        created_wards = db.session.execute(
            bulk_insert(Ward).returning(Ward.id, Ward.name),
            [
                {"name": ward_names[key], "sort_order": next_order + i}
                for i, key in enumerate(new_wards)
            ],
        )
        for id_, name in created_wards:
            wards[name_key(name)] = (id_, 0)
    return Organisation(
        ward_ids={key: wards[key][0] for key in ward_names},
        section_ids={},
        section_names={},
        wards_created=len(new_wards),
    )


@dataclass
class _WantedSection:
    """A section as the file gives it."""

    name: str
    department: tuple[int, str] | None  # (ward id, department key)
    sort_order: int
    kinds: frozenset[str] | None = None  # None: the file does not say


# (ward id, department key) -> (name, sort order), as the file gives them
_WantedDepartments = dict[tuple[int, str], tuple[str, int]]


# (ward id, section key) -> the section as the file gives it
_WantedSections = dict[tuple[int, str], _WantedSection]


# (ward id, department key) -> (id, sort order), as stored
_Departments = dict[tuple[int, str], tuple[int, int]]


def _wanted_organisation(
    rows: Sequence[RosterRow], ward_ids: dict[str, int]
) -> tuple[_WantedDepartments, _WantedSections]:
    """What the file says: departments and sections in order of first appearance per ward."""
    wanted_departments: _WantedDepartments = {}
    wanted_sections: _WantedSections = {}
    department_count: dict[int, int] = {}
    section_count: dict[int, int] = {}
    for row in rows:
        ward_id = ward_ids[name_key(row.ward)]
        department_key = (ward_id, name_key(row.department)) if row.department else None
        if department_key is not None and department_key not in wanted_departments:
            department_count[ward_id] = department_count.get(ward_id, 0) + 1
            wanted_departments[department_key] = (row.department or "", department_count[ward_id])
        section_key = (ward_id, name_key(row.section))
        if section_key not in wanted_sections:
            section_count[ward_id] = section_count.get(ward_id, 0) + 1
            wanted = wanted_sections[section_key] = _WantedSection(
                row.section, department_key, section_count[ward_id]
            )
            if row.kinds_listed:
                wanted.kinds = frozenset(row.section_kinds)
    return wanted_departments, wanted_sections


def _sync_departments(wanted_departments: _WantedDepartments, org: Organisation) -> _Departments:
    """Create the missing departments of the file's wards and put them in the file's order;
    return every department of those wards."""
    departments: _Departments = {
        (ward_id, name_key(name)): (id_, order)
        for id_, ward_id, name, order in db.session.execute(
            sa.select(
                Department.id, Department.ward_id, Department.name, Department.sort_order
            ).where(Department.ward_id.in_(list(org.ward_ids.values())))
        )
    }
    new_departments = [
        {"ward_id": key[0], "name": name, "sort_order": order}
        for key, (name, order) in wanted_departments.items()
        if key not in departments
    ]
    reordered = [
        {"id": departments[key][0], "sort_order": order}
        for key, (_name, order) in wanted_departments.items()
        if key in departments and departments[key][1] != order
    ]
    if new_departments:
        created_departments = db.session.execute(
            bulk_insert(Department).returning(Department.id, Department.ward_id, Department.name),
            new_departments,
        )
        for id_, ward_id, name in created_departments:
            departments[(ward_id, name_key(name))] = (id_, 0)
    if reordered:
        db.session.execute(sa.update(Department), reordered)
    org.departments_created = len(new_departments)
    return departments


def _sync_section_kinds(rows: Sequence[RosterRow]) -> dict[str, int]:
    """Create the section kinds named in the file when first used; return every kind's id."""
    kind_ids: dict[str, int] = {
        name: id_ for id_, name in db.session.execute(sa.select(SectionKind.id, SectionKind.name))
    }
    new_kinds = [
        kind
        for kind in SECTION_KINDS
        if kind not in kind_ids and any(kind in row.section_kinds for row in rows)
    ]
    if new_kinds:
        created_kinds = db.session.execute(
            bulk_insert(SectionKind).returning(SectionKind.id, SectionKind.name),
            [{"name": name} for name in new_kinds],
        )
        kind_ids.update({name: id_ for id_, name in created_kinds})
    return kind_ids


# (ward id, section key) -> (id, department id, sort order), as stored
_Sections = dict[tuple[int, str], tuple[int, int | None, int]]


def _sync_sections(
    wanted_sections: _WantedSections,
    departments: _Departments,
    kind_ids: dict[str, int],
    org: Organisation,
) -> None:
    """Create the missing sections, then give each section of the file its department, order
    and (when the file says) kinds; fills ``org``'s section ids and names."""
    ward_ids = list(org.ward_ids.values())
    sections = _stored_sections(ward_ids, org)
    linked = _linked_kinds(ward_ids)
    created_keys = _create_sections(wanted_sections, departments, sections, org)
    _update_sections(wanted_sections, departments, kind_ids, sections, linked, created_keys, org)


def _department_id(wanted: _WantedSection, departments: _Departments) -> int | None:
    return departments[wanted.department][0] if wanted.department else None


def _stored_sections(ward_ids: list[int], org: Organisation) -> _Sections:
    """The sections of these wards as stored; their names go into ``org.section_names``."""
    sections: _Sections = {}
    for id_, ward_id, name, department_id, order in db.session.execute(
        sa.select(
            Section.id, Section.ward_id, Section.name, Section.department_id, Section.sort_order
        ).where(Section.ward_id.in_(ward_ids))
    ):
        sections[(ward_id, name_key(name))] = (id_, department_id, order)
        org.section_names[id_] = name
    return sections


def _linked_kinds(ward_ids: list[int]) -> dict[int, set[int]]:
    """Section id -> the ids of its kinds, for the sections of these wards."""
    linked: dict[int, set[int]] = {}
    for section_id, kind_id in db.session.execute(
        sa.select(section_kind_link.c.section_id, section_kind_link.c.kind_id)
        .join(Section, Section.id == section_kind_link.c.section_id)
        .where(Section.ward_id.in_(ward_ids))
    ):
        linked.setdefault(section_id, set()).add(kind_id)
    return linked


def _create_sections(
    wanted_sections: _WantedSections,
    departments: _Departments,
    sections: _Sections,
    org: Organisation,
) -> set[tuple[int, str]]:
    """Insert the file's sections that do not exist; add them to ``sections``; return their
    keys."""
    new_sections = [key for key in wanted_sections if key not in sections]
    if new_sections:
        created_sections = db.session.execute(
            bulk_insert(Section).returning(Section.id, Section.ward_id, Section.name),
            [
                {
                    "ward_id": key[0],
                    "name": wanted_sections[key].name,
                    "department_id": _department_id(wanted_sections[key], departments),
                    "sort_order": wanted_sections[key].sort_order,
                }
                for key in new_sections
            ],
        )
        for id_, ward_id, name in created_sections:
            key = (ward_id, name_key(name))
            wanted = wanted_sections[key]
            sections[key] = (id_, _department_id(wanted, departments), wanted.sort_order)
            org.section_names[id_] = name
    org.sections_created = len(new_sections)
    return set(new_sections)


def _update_sections(
    wanted_sections: _WantedSections,
    departments: _Departments,
    kind_ids: dict[str, int],
    sections: _Sections,
    linked: dict[int, set[int]],
    created_keys: set[tuple[int, str]],
    org: Organisation,
) -> None:
    """Give each section of the file its department, order and kinds; count the existing
    sections whose department or kinds changed."""
    section_updates: list[dict[str, Any]] = []
    unlink: list[int] = []
    links: list[dict[str, int]] = []
    for key, wanted in wanted_sections.items():
        id_, department_id, order = sections[key]
        org.section_ids[key] = id_
        changed = False
        new_department_id = _department_id(wanted, departments)
        if (department_id, order) != (new_department_id, wanted.sort_order):
            section_updates.append(
                {"id": id_, "department_id": new_department_id, "sort_order": wanted.sort_order}
            )
            changed = department_id != new_department_id
        if wanted.kinds is not None:
            kinds = {kind_ids[kind] for kind in wanted.kinds}
            if kinds != linked.get(id_, set()):
                if linked.get(id_):
                    unlink.append(id_)
                links.extend({"section_id": id_, "kind_id": kind} for kind in sorted(kinds))
                changed = True
        if changed and key not in created_keys:
            org.sections_updated += 1
    if section_updates:
        db.session.execute(sa.update(Section), section_updates)
    for chunk in chunks(unlink):
        db.session.execute(
            sa.delete(section_kind_link).where(section_kind_link.c.section_id.in_(chunk))
        )
    if links:
        db.session.execute(sa.insert(section_kind_link), links)


def create_ward(name: str) -> Ward:
    """A new ward named ``name``, as a roster line's ward would be stored (``name_key``), with
    ``区`` added when missing (``grants.find_ward`` reads ``高津`` as ``高津区``, and a roster
    names the ward in full), after the others in ``sort_order``. RosterError with the roster's
    own problems (empty, too long, more than one line) or when the ward exists."""
    key = name_key(name)
    if key and not key.endswith("区"):
        key += "区"
    problems = value_problems({"ward": key})
    if not problems and db.session.scalar(sa.select(Ward.id).where(Ward.name == key)):
        problems.append(f"区「{key}」はすでにあります")
    if problems:
        raise RosterError(problems)
    last = db.session.scalar(sa.select(sa.func.max(Ward.sort_order)))
    ward = Ward(name=key, sort_order=(last or 0) + 1)
    db.session.add(ward)
    db.session.flush()
    return ward
