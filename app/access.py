"""Who may use what. Every view declares its audience with ``@access(...)``.

Audiences:
- ``public``: anyone, signed in or not;
- ``person``: anyone signed in (staff and chiefs come from the roster, per fiscal year);
- ``chief``: a person who is a section chief (所属長) in the current fiscal year;
- ``committee``: a member of the service committee (granted, for a ward or the city);
- ``admin``: an administrator (granted).

The declaration is kept on the view as ``view.access`` so that a test can walk ``app.url_map``
and prove each route refuses everyone it should.

A session started by a personal sign-in link (``VIA_LINK``, docs/auth.md "Sign-in links") is
a person and nothing more: it may use only the views declared ``link=True`` (the person's own
rounds, checklists and receipts); every other view that needs a sign-in sends it to the
sign-in page to sign in with a password, SSO or the directory first (step-up).

The audience says who may use a page at all; the **ward scope** says which wards' rounds,
results, goals and reports they may see or manage there (``ward_scope``, ``require_ward``,
``require_round``, ``chief_section_ids``, below). Grants are per ward or city-wide.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, wraps
from typing import Any, ClassVar, Literal, TypeVar, cast

import sqlalchemy as sa
from flask import (
    abort,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from typing_extensions import TypeIs

from app.extensions import db, login_manager
from app.models import (
    Assignment,
    Grant,
    GrantRole,
    Person,
    PersonRef,
    Role,
    Round,
    Section,
    Ward,
    utcnow,
)
from app.services.identity.auth import has_left
from app.services.organisation.grants import in_force_clause, in_force_now
from app.services.rounds.audience import chief_in_year
from app.wareki import fiscal_year_of, tokyo, tokyo_date

AUDIENCES = frozenset({"public", "person", "chief", "committee", "admin"})

# The session key of a session a sign-in link started: the link's round id
# (``app/auth/sessions.py`` ``start_link_session``).
VIA_LINK = "_kijun_via_link"

F = TypeVar("F", bound=Callable[..., Any])


def access(*audiences: str, link: bool = False) -> Callable[[F], F]:
    """Declare who may use a view; anyone else gets 401 (not signed in) or 403. ``link``: a
    session started by a sign-in link may use it too (a "person" view of the person's own
    checklists); without it such a session is sent to sign in again (``step_up``)."""
    unknown = set(audiences) - AUDIENCES
    if not audiences or unknown:
        raise ValueError(f"unknown audience: {sorted(unknown) or 'none given'}")
    allowed = frozenset(audiences)
    if link and allowed != {"person"}:
        raise ValueError("only a view for every person may be open to a sign-in link")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "public" not in allowed:
                if not current_user.is_authenticated:
                    return login_manager.unauthorized()
                if not link and via_link() is not None:
                    return step_up()
                if "person" not in allowed and not (allowed & roles_of(current_user)):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.access = allowed  # type: ignore[attr-defined]  # read by tests and docs
        wrapped.by_link = link  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def via_link() -> int | None:
    """The round whose sign-in link started this request's session, or None (a sign-in with
    a password, SSO or the directory, or nobody signed in)."""
    if not has_request_context():
        return None
    value = session.get(VIA_LINK)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def step_up() -> Any:
    """The answer to a session from a sign-in link on a page it may not use: the sign-in page
    (back here afterwards), saying why; 401 with the same message under ``/api/``."""
    message = _("この操作にはパスワードでのサインインが必要です。")
    if request.path.startswith("/api/"):
        return jsonify(error="password_sign_in_required", message=message), 401
    flash(message, "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def roles_of(person: PersonRef, now: datetime | None = None) -> set[str]:
    """The audiences a signed-in person belongs to now. Within a request the answer is kept
    (the access check, the menu and the page all ask): it comes with the signed-in person
    (``load_signed_in``), or from one query the first time. A session a sign-in link started
    is a person only, whatever the person's grants (``via_link``)."""
    if via_link() is not None and str(person.id) == session.get("_user_id"):
        return {"person"}
    if now is not None or not has_request_context():
        return _roles_of(person, now)
    known: dict[int, frozenset[str]] = g.setdefault("kijun_roles", {})
    if person.id not in known:
        known[person.id] = frozenset(_roles_of(person, None))
    return set(known[person.id])


@dataclass(frozen=True, eq=False)
class SignedIn:
    """Who is signed in, as every request sees them (Flask-Login's ``current_user``): the
    person's id, name and session number, read with their roles by one query
    (``load_signed_in``). Not the ORM ``Person``: loading that object on every request was
    a measurable part of the checklist page (docs/benchmarks.md). A view that needs the
    person as an object asks ``signed_in_person()``."""

    id: int
    name: str
    session_version: int
    # Flask-Login's user interface.
    is_authenticated: ClassVar[bool] = True
    is_active: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    def get_id(self) -> str:
        return str(self.id)


def signed_in() -> SignedIn | Person:
    """This request's signed-in person (a ``Person`` right after a password sign-in, which
    hands Flask-Login the object). Only for views that declared an audience (``access``)."""
    user: SignedIn | Person = current_user._get_current_object()
    return user


def signed_in_person() -> Person:
    """The signed-in person as the ORM object: from the session when it is there, or one
    query by primary key. 401 when the person is gone since the sign-in was read."""
    user = signed_in()
    if isinstance(user, Person):
        return user
    person = db.session.get(Person, user.id)
    if person is None:
        abort(401)
    return person


def load_signed_in(by: str, value: object) -> SignedIn | None:
    """The person whose ``by`` column ("id" or "employee_id") is ``value``, together with
    their roles, in one query; the roles are kept for this request, so that the page's menu
    asks the database nothing more. None for nobody, and for a person the latest roster
    shows as having left (``has_left_clause``, asked in a second query only of someone who
    is not on this fiscal year's roster): their grants end with them."""
    now = utcnow()
    fiscal_year = fiscal_year_of(tokyo(now))
    parameters = {"value": value, "fiscal_year": fiscal_year, "today": tokyo_date(now)}
    # Core, not the ORM session's execute: the row is plain columns, and the ORM's result
    # handling was a measurable part of every page (docs/benchmarks.md).
    row = db.session.connection().execute(_signed_in_query(by), parameters).first()
    if row is None:
        return None
    person_id, name, session_version, on_roster, is_chief, granted = row
    signed_in = SignedIn(person_id, name, session_version)
    if not on_roster and has_left(signed_in, now):
        return None
    roles = {"person", *(granted.split(",") if granted else ())}
    if is_chief:
        roles.add("chief")
    if has_request_context():
        g.setdefault("kijun_roles", {})[person_id] = frozenset(roles)
    return signed_in


def _by_column(by: str) -> Any:
    return {"id": Person.id, "employee_id": Person.employee_id}[by]


@cache
def _signed_in_query(by: str) -> sa.Select[int, str, int, bool, bool | None, str | None]:
    # Built once (it runs on every page); bound parameters: value, fiscal_year, today. The
    # person with this year's assignment (one at most a year) beside them, and their grants
    # in force as one list ("committee,admin"): few plan nodes for PostgreSQL to set up.
    granted = (
        sa.select(sa.func.aggregate_strings(sa.cast(Grant.role, sa.String(20)), ","))
        .where(
            Grant.person_id == Person.id,
            in_force_clause(sa.bindparam("fiscal_year"), sa.bindparam("today", type_=sa.Date())),
        )
        .scalar_subquery()
    )
    return (
        sa.select(
            Person.id,
            Person.name,
            Person.session_version,
            Assignment.id.is_not(None),
            chief_in_year(sa.bindparam("fiscal_year")),
            granted,
        )
        .outerjoin(
            Assignment,
            sa.and_(
                Assignment.person_id == Person.id,
                Assignment.fiscal_year == sa.bindparam("fiscal_year"),
            ),
        )
        .where(
            _by_column(by) == sa.bindparam("value"),
            # A person an admin marked "may not sign in" is nobody, by session or header.
            Person.sign_in_blocked.is_(False),
        )
    )


def _roles_of(person: PersonRef, now: datetime | None) -> set[str]:
    """One query: the granted roles, and "chief" when the roster says so this fiscal year."""
    now = now or utcnow()
    fiscal_year = fiscal_year_of(tokyo(now))
    granted = sa.select(sa.cast(Grant.role, sa.String(20)).label("role")).where(
        Grant.person_id == person.id, in_force_now(now)
    )
    chief = sa.select(sa.literal("chief", sa.String(20))).where(
        sa.exists().where(Assignment.person_id == person.id, chief_in_year(fiscal_year))
    )
    roles = {"person"}
    roles.update(db.session.scalars(sa.union_all(granted, chief)))
    return roles


# --- Ward scope: which wards (and sections) a person may see or manage --------------------------
#
# The one home of that question: every view, API route, export, admin page and ledger asks here,
# and so does the scheduler choosing the committee members to mail (``grant_reaches_clause``).
# In Python the rule is ``covers``; in SQL ``in_scope_clause`` (None means every ward).
# "committee" is reading and the committee's work (results, exports, goals, annual reports):
# committee grants and admin grants both give it, for their ward or (ward None) the city.
# "admin" is running rounds (create, edit, the send ledger): admin grants only. A round with
# several wards may be managed only by someone who may manage every one of them, since its
# times, mail and ledger concern all of its people. docs/auth.md describes the rules.

ScopeRole = Literal["committee", "admin"]

_SCOPE_GRANTS: dict[str, tuple[GrantRole, ...]] = {
    "committee": (GrantRole.COMMITTEE, GrantRole.ADMIN),
    "admin": (GrantRole.ADMIN,),
}


def ward_scope(person: PersonRef, role: ScopeRole) -> set[int] | None:
    """The ids of the wards this person may see ("committee") or manage ("admin");
    None = every ward (a city-wide grant), an empty set = none."""
    if role not in _SCOPE_GRANTS:
        raise ValueError(f"unknown scope role: {role!r}")
    ward_ids = db.session.scalars(
        sa.select(Grant.ward_id).where(
            Grant.person_id == person.id,
            Grant.role.in_(_SCOPE_GRANTS[role]),
            in_force_now(utcnow()),
        )
    ).all()
    if any(ward_id is None for ward_id in ward_ids):
        return None
    return {ward_id for ward_id in ward_ids if ward_id is not None}


def require_city(person: PersonRef) -> None:
    """403 unless the person may read every ward (a committee or admin grant with no ward):
    what the city page needs, since its total adds up all the wards."""
    if ward_scope(person, "committee") is not None:
        abort(403)


def in_scope_clause(ward_id: Any, scope: Collection[int] | None) -> sa.ColumnElement[bool]:
    """SQL: the ward id ``ward_id`` (a column) is in a scope (from ``ward_scope``; None: every
    ward, so always true). The one SQL form of the scope rule, as ``covers`` is its Python one."""
    if scope is None:
        return sa.true()
    return ward_id.in_(sorted(scope))  # type: ignore[no-any-return]


def grant_reaches_clause(ward_ids: Any) -> sa.ColumnElement[bool]:
    """SQL: the Grant row reaches one of ``ward_ids`` (a list or a subquery of ward ids): it
    is city-wide (``ward_id`` None) or for one of them. Whether it works at all is
    ``grants.in_force_clause``."""
    return sa.or_(Grant.ward_id.is_(None), Grant.ward_id.in_(ward_ids))


def scope_wards(scope: Collection[int] | None) -> list[Ward]:
    """The wards of a scope (from ``ward_scope``; None: every ward), in the city's order."""
    query = sa.select(Ward).where(in_scope_clause(Ward.id, scope))
    return list(db.session.scalars(query.order_by(Ward.sort_order, Ward.id)))


def visible_wards(person: PersonRef, role: ScopeRole) -> list[Ward]:
    """The wards ``person`` may see (committee) or manage (admin), in the city's order."""
    return scope_wards(ward_scope(person, role))


def is_city(scope: Collection[int] | None) -> TypeIs[None]:
    """Whether a scope (from ``ward_scope``) is the whole city: None means every ward."""
    return scope is None


def covers(scope: Collection[int] | None, ward_ids: Iterable[int]) -> bool:
    """Whether a scope (from ``ward_scope``; None: every ward) holds every one of ``ward_ids``
    (at least one)."""
    wanted = set(ward_ids)
    return scope is None or (bool(wanted) and wanted <= set(scope))


def require_ward(person: PersonRef, role: ScopeRole, ward_id: int) -> None:
    """403 unless the ward is in the person's scope. Wards are no secret (every ward's name is
    public), so the refusal may say so; resources that belong to a ward answer 404 instead."""
    if not covers(ward_scope(person, role), [ward_id]):
        abort(403)


def round_in_scope(person: PersonRef, role: ScopeRole, round_: Round) -> bool:
    """Whether every ward of the round is in the person's scope (what managing it needs).
    Reading results is finer: ``round_results`` takes the scope and shows the reader's wards
    of a round that also covers others."""
    return covers(ward_scope(person, role), (ward.id for ward in round_.wards))


def require_round(person: PersonRef, role: ScopeRole, round_id: int) -> Round:
    """The round, or 404 when it does not exist or is outside the person's scope: the answer
    is the same, so that nobody learns which rounds other wards have."""
    round_ = db.session.get(Round, round_id)
    if round_ is None or not round_in_scope(person, role, round_):
        abort(404)
    return round_


def chief_section_ids(person: PersonRef, fiscal_year: int) -> set[int]:
    """The sections this person is chief of in the fiscal year (the roster allows one): what a
    chief sees and edits of their own, whatever their grants."""
    return set(
        db.session.scalars(
            sa.select(Assignment.section_id).where(
                Assignment.person_id == person.id, chief_in_year(fiscal_year)
            )
        )
    )


def chief_sections_by_year(person: PersonRef, first: int, last: int) -> list[tuple[int, Section]]:
    """(fiscal year, section) for each year from ``first`` to ``last`` in which the person is
    a chief, newest first."""
    rows = db.session.execute(
        sa.select(Assignment.fiscal_year, Section)
        .join(Section, Section.id == Assignment.section_id)
        .where(
            Assignment.person_id == person.id,
            Assignment.role == Role.CHIEF,
            Assignment.fiscal_year.between(first, last),
        )
        .order_by(Assignment.fiscal_year.desc())
    ).all()
    return [(year, section) for year, section in rows]


def may_manage_section(person: PersonRef, section: Section, fiscal_year: int) -> bool:
    """Whether the person may edit the section's goals of the year: its chief that year, or
    the committee (or an admin) of its ward."""
    return section.id in chief_section_ids(person, fiscal_year) or covers(
        ward_scope(person, "committee"), [section.ward_id]
    )
