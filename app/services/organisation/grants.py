"""Committee and admin grants: roles that do not come from the roster.

A grant with a ward covers that ward; a grant without one covers the whole city. A grant may
have an end date (``Grant.ends_on``, the last day it works on the city's clock); after it, the
grant stops like a revoked one, though its row stays until revoked. Each April the admin pages
ask to review the grants (``grant_review_due``). Functions flush but never commit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.extensions import db
from app.models import Assignment, Grant, GrantRole, Person, Section, Ward
from app.services.errors import DomainError
from app.wareki import fiscal_year_of, tokyo, tokyo_date

# A grant ending within this many days is marked on the people pages.
ENDING_SOON_DAYS = 30
# The month (Tokyo) in which the admin pages ask to review the grants: the roster's month.
REVIEW_MONTH = 4
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


def in_force_clause(fiscal_year: Any, today: Any) -> sa.ColumnElement[bool]:
    """SQL, correlated to ``Grant``: the grant works in ``fiscal_year`` on the Tokyo day
    ``today`` (values or bind parameters; ``in_force_now`` gives both for an instant). The one
    home of that rule: the sign-in's roles, the ward scope and the committee's mail all ask it.

    A grant with an end date (``ends_on``) works up to and including that day, never after.
    A city-wide grant otherwise always works (a holder who has left is refused at sign-in:
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
    not_ended = sa.or_(Grant.ends_on.is_(None), Grant.ends_on >= today)
    return sa.and_(
        not_ended,
        sa.or_(
            Grant.ward_id.is_(None),
            sa.exists().where(
                latest.person_id == Grant.person_id,
                latest.fiscal_year == latest_year,
                latest.section_id == section.id,
                section.ward_id == Grant.ward_id,
            ),
            ~sa.exists().where(
                placed.person_id == Grant.person_id, placed.fiscal_year <= fiscal_year
            ),
        ),
    )


def in_force_now(now: datetime) -> sa.ColumnElement[bool]:
    """``in_force_clause`` at the instant ``now``: its fiscal year and Tokyo day."""
    return in_force_clause(fiscal_year_of(tokyo(now)), tokyo_date(now))


def grants_in_force(person: Person, now: datetime) -> set[int]:
    """The ids of the person's grants that work at ``now`` (``in_force_clause``)."""
    return set(
        db.session.scalars(
            sa.select(Grant.id).where(Grant.person_id == person.id, in_force_now(now))
        )
    )


def has_ended(grant: Grant, now: datetime) -> bool:
    """Whether the grant's end date has passed on the city's clock (``in_force_clause``'s
    end-date part, for a grant already read)."""
    return grant.ends_on is not None and grant.ends_on < tokyo_date(now)


def ends_soon(grant: Grant, now: datetime) -> bool:
    """Whether the grant still works but ends within ``ENDING_SOON_DAYS`` days (Tokyo)."""
    today = tokyo_date(now)
    return (
        grant.ends_on is not None
        and today <= grant.ends_on <= today + timedelta(days=ENDING_SOON_DAYS)
    )


def grant_review_due(now: datetime) -> bool:
    """Whether the admin pages ask to review the grants: all of April, on the city's clock
    (the month the new roster comes in and committees change)."""
    return tokyo(now).month == REVIEW_MONTH


def parse_ends_on(text: str, now: datetime) -> date | None:
    """A grant's end date as typed (``2027-03-31``; full-width digits too): None when empty.
    Raises GrantError in plain Japanese for anything else, and for a day before today
    (Tokyo): a grant that has already ended is revoked, not granted."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned:
        return None
    try:
        if _DAY.match(cleaned) is None:
            raise ValueError(cleaned)
        day = date.fromisoformat(cleaned)
    except ValueError as error:
        raise GrantError(
            _("終わりの日「%(text)s」が読めません。2027-03-31 のように「年-月-日」で"
              "書いてください。", text=text.strip()[:40])
        ) from error
    if day < tokyo_date(now):
        raise GrantError(
            _("終わりの日は今日以降にしてください。もう終わった権限は取り消してください。")
        )
    return day


def _existing(person: Person, role: GrantRole, ward: Ward | None) -> Grant | None:
    ward_clause = Grant.ward_id.is_(None) if ward is None else Grant.ward_id == ward.id
    return db.session.scalar(
        sa.select(Grant).where(Grant.person_id == person.id, Grant.role == role, ward_clause)
    )


@dataclass(frozen=True)
class GrantChange:
    """What ``grant_role`` did: whether anything changed, whether the person held the role
    already, and its end date before."""

    changed: bool
    existed: bool
    ends_on_before: date | None = None


def grant_role(
    person: Person, role: GrantRole, ward: Ward | None = None, ends_on: date | None = None
) -> GrantChange:
    """Give ``role`` for ``ward`` (None = the city) until ``ends_on`` (None: until revoked).
    Granting a role the person holds sets its end date to ``ends_on`` (extends, shortens or
    removes it)."""
    found = _existing(person, role, ward)
    if found is not None:
        before = found.ends_on
        if before == ends_on:
            return GrantChange(False, True, before)
        found.ends_on = ends_on
        db.session.flush()
        return GrantChange(True, True, before)
    db.session.add(
        Grant(person_id=person.id, role=role, ward_id=ward.id if ward else None, ends_on=ends_on)
    )
    db.session.flush()
    return GrantChange(True, False)


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
