"""Committee and admin grants: roles that do not come from the roster.

A grant with a ward covers that ward; a grant without one covers the whole city. Functions
flush but never commit.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models import Assignment, Grant, GrantRole, Person, Section, Ward
from app.services.errors import DomainError


class GrantError(DomainError):
    """The grant cannot be changed; ``message`` is plain Japanese."""


def find_ward(name: str) -> Ward:
    """The ward named ``name`` (``高津`` finds ``高津区`` too); raise GrantError if none."""
    wanted = name.strip()
    for candidate in (wanted, wanted + "区"):
        ward = db.session.scalar(sa.select(Ward).where(Ward.name == candidate))
        if ward is not None:
            return ward
    names = db.session.scalars(sa.select(Ward.name).order_by(Ward.sort_order, Ward.name)).all()
    known = "、".join(names) if names else "（区がまだ登録されていません）"
    raise GrantError(f"区「{wanted}」はありません。登録されている区: {known}")


def in_force_clause(fiscal_year: Any) -> sa.ColumnElement[bool]:
    """SQL, correlated to ``Grant``: the grant works in ``fiscal_year`` (a value or a bind
    parameter). The one home of that rule: the sign-in's roles, the ward scope and the
    committee's mail all ask it.

    A city-wide grant always works (a holder who has left is refused at sign-in:
    ``has_left_clause``). A ward's grant works while its holder's latest assignment up to
    ``fiscal_year`` is in that ward, or while the holder was never on any roster (an account
    made for the role). So it stops when a roster of the year places its holder in another
    ward, and it holds through April until the year's roster is in.
    """
    latest = so.aliased(Assignment)
    earlier = so.aliased(Assignment)
    placed = so.aliased(Assignment)
    section = so.aliased(Section)
    latest_year = (
        sa.select(sa.func.max(earlier.fiscal_year))
        .where(earlier.person_id == latest.person_id, earlier.fiscal_year <= fiscal_year)
        .scalar_subquery()
    )
    return sa.or_(
        Grant.ward_id.is_(None),
        sa.exists().where(
            latest.person_id == Grant.person_id,
            latest.fiscal_year == latest_year,
            latest.section_id == section.id,
            section.ward_id == Grant.ward_id,
        ),
        ~sa.exists().where(placed.person_id == Grant.person_id, placed.fiscal_year <= fiscal_year),
    )


def grants_in_force(person: Person, fiscal_year: int) -> set[int]:
    """The ids of the person's grants that work in ``fiscal_year`` (``in_force_clause``)."""
    return set(
        db.session.scalars(
            sa.select(Grant.id).where(Grant.person_id == person.id, in_force_clause(fiscal_year))
        )
    )


def _existing(person: Person, role: GrantRole, ward: Ward | None) -> Grant | None:
    ward_clause = Grant.ward_id.is_(None) if ward is None else Grant.ward_id == ward.id
    return db.session.scalar(
        sa.select(Grant).where(Grant.person_id == person.id, Grant.role == role, ward_clause)
    )


def grant_role(person: Person, role: GrantRole, ward: Ward | None = None) -> bool:
    """Give ``role`` for ``ward`` (None = the city); False if the person already had it."""
    if _existing(person, role, ward) is not None:
        return False
    db.session.add(Grant(person_id=person.id, role=role, ward_id=ward.id if ward else None))
    db.session.flush()
    return True


def revoke_role(person: Person, role: GrantRole, ward: Ward | None = None) -> bool:
    """Take ``role`` for ``ward`` (None = the city) away; False if the person did not have it."""
    found = _existing(person, role, ward)
    if found is None:
        return False
    db.session.delete(found)
    db.session.flush()
    return True


def list_grants() -> list[Grant]:
    """Every grant with its person and ward loaded, by employee id, role, then ward."""
    return list(
        db.session.scalars(
            sa.select(Grant)
            .join(Grant.person)
            .outerjoin(Grant.ward)
            .options(so.contains_eager(Grant.person), so.contains_eager(Grant.ward))
            .order_by(Person.employee_id, Grant.role, Ward.sort_order.nulls_first(), Ward.name)
        )
    )
