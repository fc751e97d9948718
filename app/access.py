"""Who may use what. Every view declares its audience with ``@access(...)``.

Audiences:
- ``public``: anyone, signed in or not;
- ``person``: anyone signed in (staff and chiefs come from the roster, per fiscal year);
- ``chief``: a person who is a section chief (所属長) in the current fiscal year;
- ``committee``: a member of the service committee (granted, for a ward or the city);
- ``admin``: an administrator (granted).

The declaration is kept on the view as ``view.access`` so that a test can walk ``app.url_map``
and prove each route refuses everyone it should.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache, wraps
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import abort, g, has_request_context
from flask_login import current_user

from app.extensions import db, login_manager
from app.models import Assignment, Grant, GrantRole, Person, Role, utcnow
from app.services.auth import has_left_clause
from app.wareki import fiscal_year_of, tokyo

AUDIENCES = frozenset({"public", "person", "chief", "committee", "admin"})

F = TypeVar("F", bound=Callable[..., Any])


def access(*audiences: str) -> Callable[[F], F]:
    """Declare who may use a view; anyone else gets 401 (not signed in) or 403."""
    unknown = set(audiences) - AUDIENCES
    if not audiences or unknown:
        raise ValueError(f"unknown audience: {sorted(unknown) or 'none given'}")
    allowed = frozenset(audiences)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "public" not in allowed:
                if not current_user.is_authenticated:
                    return login_manager.unauthorized()
                if "person" not in allowed and not (allowed & roles_of(current_user)):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.access = allowed  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def roles_of(person: Person, now: datetime | None = None) -> set[str]:
    """The audiences a signed-in person belongs to now. Within a request the answer is kept
    (the access check, the menu and the page all ask): it comes with the signed-in person
    (``load_signed_in``), or from one query the first time."""
    if now is not None or not has_request_context():
        return _roles_of(person, now)
    known: dict[int, frozenset[str]] = g.setdefault("kijun_roles", {})
    if person.id not in known:
        known[person.id] = frozenset(_roles_of(person, None))
    return set(known[person.id])


def load_signed_in(by: str, value: object) -> Person | None:
    """The person whose ``by`` column ("id" or "employee_id") is ``value``, together with
    their roles, in one query; the roles are kept for this request, so that the page's menu
    asks the database nothing more. None for nobody, and for a person the latest roster
    shows as having left (``has_left_clause``): their grants end with them."""
    row = db.session.execute(
        _signed_in_query(by), {"value": value, "fiscal_year": fiscal_year_of(tokyo(utcnow()))}
    ).first()
    if row is None:
        return None
    person, is_chief, left, *has_grants = row
    if left:
        return None
    roles = {"person"} | {
        role.value for role, has in zip(GrantRole, has_grants, strict=True) if has
    }
    if is_chief:
        roles.add("chief")
    if has_request_context():
        g.setdefault("kijun_roles", {})[person.id] = frozenset(roles)
    return person


@cache
def _signed_in_query(by: str) -> sa.Select[Any]:
    # Built once (it runs on every page); bound parameters: value, fiscal_year.
    granted = [
        sa.exists().where(Grant.person_id == Person.id, Grant.role == role) for role in GrantRole
    ]
    chief = sa.exists().where(
        Assignment.person_id == Person.id,
        Assignment.fiscal_year == sa.bindparam("fiscal_year"),
        Assignment.role == Role.CHIEF,
    )
    left = has_left_clause(sa.bindparam("fiscal_year"))
    column = {"id": Person.id, "employee_id": Person.employee_id}[by]
    statement: Any = sa.select(Person, chief, left, *granted).where(
        column == sa.bindparam("value")
    )
    return statement


def _roles_of(person: Person, now: datetime | None) -> set[str]:
    """One query: the granted roles, and "chief" when the roster says so this fiscal year."""
    fiscal_year = fiscal_year_of(tokyo(now or utcnow()))
    granted = sa.select(sa.cast(Grant.role, sa.String(20)).label("role")).where(
        Grant.person_id == person.id
    )
    chief = sa.select(sa.literal("chief", sa.String(20))).where(
        sa.exists().where(
            Assignment.person_id == person.id,
            Assignment.fiscal_year == fiscal_year,
            Assignment.role == Role.CHIEF,
        )
    )
    roles = {"person"}
    roles.update(db.session.scalars(sa.union_all(granted, chief)))
    return roles


def committee_ward_ids(person: Person) -> set[int] | None:
    """Ward ids whose results this person may read as committee or admin; None = every ward."""
    rows = db.session.execute(
        sa.select(Grant.ward_id).where(
            Grant.person_id == person.id,
            Grant.role.in_([GrantRole.COMMITTEE, GrantRole.ADMIN]),
        )
    ).all()
    if any(ward_id is None for (ward_id,) in rows):
        return None
    return {ward_id for (ward_id,) in rows if ward_id is not None}
