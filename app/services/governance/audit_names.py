"""The names an audit log page shows, looked up at display time for a whole page at once.

A row of the log keeps ids (``actor_id``, ``target_id``, ``ward_id``) and values (the JSON of
``before`` and ``after``) that name people, rounds, catalogues, wards, departments, sections and
working teams. ``read_rows`` parses a page's rows and ``audit_names`` resolves every id they
name with one query per kind of id, whatever the number of rows (never one per row). The log
itself is never changed: a renamed round shows its name of today, and an object that no longer
exists is simply missing from the maps (the page then falls back to the value kept in the row).

``VALUE_KINDS`` says which keys of the values hold which kind of id; the admin's page
(``app/admin/audit_sentences.py``) formats the same keys with the same maps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditEvent,
    Catalogue,
    Department,
    Person,
    Round,
    Section,
    Ward,
    WorkingTeam,
)

Kind = Literal[
    "person", "employee", "round", "catalogue", "ward", "department", "section", "team", "group"
]

# The keys of a row's values that name an object, and the kind of its id (or ids, for a list).
VALUE_KINDS: dict[str, Kind] = {
    "ward_id": "ward",
    "ward_ids": "ward",
    "catalogue": "catalogue",
    "from": "catalogue",
    "employee_id": "employee",
    "employee_ids": "employee",
    "members": "employee",
    "group": "group",
}


@dataclass(frozen=True)
class AuditRow:
    """One row of the log with its values parsed (None when empty; the stored text itself in
    the unlikely case it is not JSON)."""

    event: AuditEvent
    before: Any
    after: Any


@dataclass(frozen=True)
class PersonName:
    """A person as the log names them: name and 職員番号."""

    name: str
    employee_id: str


@dataclass(frozen=True)
class Place:
    """A section or department with the ward it belongs to (names alike in several wards)."""

    name: str
    ward: str


@dataclass(frozen=True)
class AuditNames:
    """What the ids of a page's rows name, by kind of id."""

    people: Mapping[int, PersonName] = field(default_factory=dict)
    employees: Mapping[str, str] = field(default_factory=dict)  # 職員番号 -> name
    rounds: Mapping[int, str] = field(default_factory=dict)
    catalogues: Mapping[str, str] = field(default_factory=dict)  # key -> title
    wards: Mapping[int, str] = field(default_factory=dict)
    departments: Mapping[int, Place] = field(default_factory=dict)
    sections: Mapping[int, Place] = field(default_factory=dict)
    teams: Mapping[int, str] = field(default_factory=dict)


def parse_values(text: str | None) -> Any:
    """A row's ``before`` or ``after`` as Python values (None for none)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_rows(events: Iterable[AuditEvent]) -> list[AuditRow]:
    """The events with their values parsed, in the same order."""
    return [AuditRow(e, parse_values(e.before), parse_values(e.after)) for e in events]


def as_int(value: object) -> int | None:
    """An id kept as text or number, or None when it is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def year_plan_target(target_id: str | None) -> tuple[int | None, int | None]:
    """A ``year_plan`` row's target ``"<ward id>:<fiscal year>"`` as (ward id, fiscal year)."""
    ward, _sep, year = (target_id or "").partition(":")
    return as_int(ward), as_int(year)


def group_target(key: object) -> tuple[Kind, int] | None:
    """A results group's key (``ward:3``, ``department:5``, ``department:3:direct``,
    ``section:7``) as the kind and id of what it names; None for ``all`` or anything else."""
    if not isinstance(key, str):
        return None
    parts = key.split(":")
    number = as_int(parts[1]) if len(parts) > 1 else None
    if number is None:
        return None
    if parts[0] == "department" and len(parts) == 3:
        return "ward", number  # the sections of a ward outside any department
    kinds: dict[str, Kind] = {"ward": "ward", "department": "department", "section": "section"}
    kind = kinds.get(parts[0])
    return (kind, number) if kind is not None and len(parts) == 2 else None


class _Wanted:
    """The ids a page's rows name, collected by kind."""

    def __init__(self) -> None:
        self.ids: dict[Kind, set[Any]] = {}

    def add(self, kind: Kind, value: object) -> None:
        if kind == "group":
            found = group_target(value)
            if found is not None:
                self.add(*found)
            return
        if kind in ("catalogue", "employee"):
            if isinstance(value, str) and value:
                self.ids.setdefault(kind, set()).add(value)
            return
        number = as_int(value)
        if number is not None:
            self.ids.setdefault(kind, set()).add(number)

    def values(self, value: Any) -> None:
        """Every id under a key of ``VALUE_KINDS``, at any depth of the values."""
        if isinstance(value, dict):
            for key, item in value.items():
                kind = VALUE_KINDS.get(key)
                if kind is None:
                    self.values(item)
                elif isinstance(item, list):
                    for one in item:
                        self.add(kind, one)
                else:
                    self.add(kind, item)
        elif isinstance(value, list):
            for item in value:
                self.values(item)

    def row(self, row: AuditRow) -> None:
        event = row.event
        self.add("person", event.actor_id)
        self.add("ward", event.ward_id)
        target_kinds: dict[str, Kind] = {
            "person": "person", "round": "round", "catalogue": "catalogue",
            "section": "section", "working_team": "team",
        }  # fmt: skip
        kind = target_kinds.get(event.target_type)
        if kind is not None:
            self.add(kind, event.target_id)
        elif event.target_type == "year_plan":
            self.add("ward", year_plan_target(event.target_id)[0])
        self.values(row.before)
        self.values(row.after)


def _pairs(ids: set[Any], key: Any, value: Any) -> dict[Any, Any]:
    if not ids:
        return {}
    query = sa.select(key, value).where(key.in_(sorted(ids)))
    return {k: v for k, v in db.session.execute(query)}


def _places(ids: set[Any], model: type[Section] | type[Department]) -> dict[int, Place]:
    if not ids:
        return {}
    query = (
        sa.select(model.id, model.name, Ward.name)
        .join(Ward, Ward.id == model.ward_id)
        .where(model.id.in_(sorted(ids)))
    )
    return {i: Place(name, ward) for i, name, ward in db.session.execute(query)}


def audit_names(rows: Sequence[AuditRow]) -> AuditNames:
    """Every object the rows name, with one query per kind of id that occurs (at most eight,
    however many rows)."""
    wanted = _Wanted()
    for row in rows:
        wanted.row(row)
    ids = wanted.ids
    people: dict[int, PersonName] = {}
    if ids.get("person"):
        query = sa.select(Person.id, Person.name, Person.employee_id).where(
            Person.id.in_(sorted(ids["person"]))
        )
        people = {i: PersonName(name, number) for i, name, number in db.session.execute(query)}
    return AuditNames(
        people=people,
        employees=_pairs(ids.get("employee", set()), Person.employee_id, Person.name),
        rounds=_pairs(ids.get("round", set()), Round.id, Round.title),
        catalogues=_pairs(ids.get("catalogue", set()), Catalogue.key, Catalogue.title),
        wards=_pairs(ids.get("ward", set()), Ward.id, Ward.name),
        departments=_places(ids.get("department", set()), Department),
        sections=_places(ids.get("section", set()), Section),
        teams=_pairs(ids.get("team", set()), WorkingTeam.id, WorkingTeam.name),
    )
