"""Who a round asks, and what: the one home of these rules (docs/architecture.md).

- A round asks everyone **assigned in the round's fiscal year to a section of one of its
  wards**, in the role (職員 or 所属長) and section of that assignment (``join_audience``,
  ``audience``).
- Of a catalogue's standards, the ``everyone`` ones are asked of staff and chiefs alike, each for
  themself; the ``section`` ones of the chief only, once for the section (and only of sections
  of the standard's kinds, when it names any: ``checklist_page._items_query``); a city catalogue's
  ward-specific list belongs to no ward in particular and is asked of nobody (``asked_roles``).
- Who is a section's chief in a fiscal year (``chief_in_year``) and who are a section's members
  in a fiscal year (``section_members_in_year``): one SQL expression each, used by the sign-in,
  the reminders, the chief's page and the downloads alike.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.models import Assignment, Audience, Role, Round, Section, round_ward

ROLES: tuple[Role, ...] = (Role.STAFF, Role.CHIEF)


def chief_in_year(fiscal_year: Any, assignment: Any = Assignment) -> sa.ColumnElement[bool]:
    """SQL: the ``assignment`` row (Assignment or an alias) makes its person a section's chief
    (所属長) in ``fiscal_year`` (a value or a column): the roster's one chief per section."""
    return sa.and_(assignment.fiscal_year == fiscal_year, assignment.role == Role.CHIEF)


def section_members_in_year(
    section_id: Any, fiscal_year: Any, assignment: Any = Assignment
) -> sa.ColumnElement[bool]:
    """SQL: the ``assignment`` row (Assignment or an alias) makes its person a member (staff or
    chief) of the section ``section_id`` in ``fiscal_year`` (values or columns; a round's
    members are its fiscal year's)."""
    return sa.and_(assignment.section_id == section_id, assignment.fiscal_year == fiscal_year)


def join_audience(query: Any, *, person_id: Any = None, assignment: Any = Assignment) -> Any:
    """``query`` (which selects from Round) joined to the round's audience: its wards, their
    sections, and the assignments of the round's fiscal year in them (of one person when
    ``person_id`` is given; ``assignment`` may be an alias of Assignment)."""
    on = [section_members_in_year(Section.id, Round.fiscal_year, assignment)]
    if person_id is not None:
        on.append(assignment.person_id == person_id)
    return (
        query.join(round_ward, round_ward.c.round_id == Round.id)
        .join(Section, Section.ward_id == round_ward.c.ward_id)
        .join(assignment, sa.and_(*on))
    )


def audience() -> Any:
    """Everyone a round asks, one row per (round, person), with the section and role they
    answer in. Columns: round_id, person_id, section_id, role."""
    return join_audience(
        sa.select(
            Round.id.label("round_id"),
            Assignment.person_id.label("person_id"),
            Assignment.section_id.label("section_id"),
            Assignment.role.label("role"),
        ).select_from(Round)
    )


def asked_roles(
    audience_: Audience, ward_specific: bool, catalogue_ward_id: int | None
) -> frozenset[Role]:
    """The roles a standard is asked of: the chief for a section-level standard, nobody for a
    city catalogue's ward-specific list, staff and chiefs for the rest."""
    if Audience(audience_) is Audience.SECTION:
        return frozenset({Role.CHIEF})
    if ward_specific and catalogue_ward_id is None:
        return frozenset()
    return frozenset(ROLES)
