"""People and roles for the admin's pages: search, a person's years and grants, grant and
revoke within the admin's wards, password links, and the "may not sign in" mark.

Which people an admin manages: those whose latest assignment is in one of the admin's wards
(a city-wide admin: everyone). Every change writes its audit row; functions flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.access import covers, is_city
from app.extensions import db
from app.models import (
    Assignment,
    Grant,
    GrantRole,
    LoginAttempt,
    Person,
    Section,
    Ward,
    utcnow,
)
from app.services.governance import audit
from app.services.organisation.grants import (
    ends_soon,
    grant_role,
    grants_in_force,
    has_ended,
    revoke_role,
)

SEARCH_LIMIT = 100


class PeopleError(Exception):
    """A change an admin may not make; ``message`` is in the page's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _latest_assignment() -> sa.Subquery:
    """Each person's assignment of their latest fiscal year on the roster."""
    ranked = sa.select(
        Assignment.person_id,
        Assignment.section_id,
        sa.func.row_number()
        .over(partition_by=Assignment.person_id, order_by=Assignment.fiscal_year.desc())
        .label("rank"),
    ).subquery()
    return sa.select(ranked.c.person_id, ranked.c.section_id).where(ranked.c.rank == 1).subquery()


def person_ward_id(person: Person) -> int | None:
    """The ward of the person's latest assignment (None: never on a roster)."""
    return db.session.scalar(
        sa.select(Section.ward_id)
        .join(Assignment, Assignment.section_id == Section.id)
        .where(Assignment.person_id == person.id)
        .order_by(Assignment.fiscal_year.desc())
        .limit(1)
    )


def in_scope(person: Person, ward_ids: set[int] | None) -> bool:
    """Whether an admin of ``ward_ids`` (None: the city) manages this person."""
    ward_id = person_ward_id(person)
    return covers(ward_ids, [] if ward_id is None else [ward_id])


def holds_grant_outside(person: Person, scope: set[int] | None) -> bool:
    """Whether the person holds a grant that an admin of ``scope`` does not cover: a
    city-wide grant, or one for a ward outside ``scope`` (never, for a city-wide admin)."""
    return any(
        not covers(scope, [] if grant.ward_id is None else [grant.ward_id])
        for grant in person.grants
    )


def require_identity_in_scope(person: Person, scope: set[int] | None) -> None:
    """Refuse (PeopleError) to act on how a person signs in (a password link, a sign-in
    block) when they hold authority outside the admin's wards: otherwise a ward admin could
    take over another ward's admin or a city-wide committee member (docs/admin.md,
    "Identity")."""
    if holds_grant_outside(person, scope):
        raise PeopleError(
            _("この人はほかの区または全市の権限を持っています。サインインに関わる操作は全市の管理者が行います。")
        )


@dataclass(frozen=True)
class HeldGrant:
    """A grant as the people pages list it: whether it has ended, or ends within
    ``grants.ENDING_SOON_DAYS`` days."""

    grant: Grant
    ended: bool
    ending_soon: bool


@dataclass(frozen=True)
class PersonRow:
    person: Person
    section: str | None
    ward: str | None
    grants: list[HeldGrant] = field(default_factory=list)


def held_grants(grants: list[Grant], now: datetime) -> list[HeldGrant]:
    """The grants in the pages' order (role, then the city before the wards), each marked
    ended or ending soon at ``now`` (``grants.has_ended``, ``grants.ends_soon``)."""
    ordered = sorted(grants, key=lambda g: (g.role.value, g.ward_id or 0))
    return [HeldGrant(g, has_ended(g, now), ends_soon(g, now)) for g in ordered]


def search_people(
    text: str, ward_ids: set[int] | None, *, holders_only: bool = False,
    now: datetime | None = None,
) -> list[PersonRow]:
    """People of the admin's wards whose employee id, name or latest section contains
    ``text`` (all of them when empty), by employee id, at most ``SEARCH_LIMIT``, each with
    the grants they hold (one more query). ``holders_only``: only people holding a committee
    or admin grant (the April review's list)."""
    latest = _latest_assignment()
    query = (
        sa.select(Person, Section.name, Ward.name)
        .outerjoin(latest, latest.c.person_id == Person.id)
        .outerjoin(Section, Section.id == latest.c.section_id)
        .outerjoin(Ward, Ward.id == Section.ward_id)
    )
    if ward_ids is not None:
        query = query.where(Section.ward_id.in_(sorted(ward_ids)))
    wanted = text.strip()
    if wanted:
        like = "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                Person.employee_id.like(like, escape="\\"),
                Person.name.like(like, escape="\\"),
                Section.name.like(like, escape="\\"),
            )
        )
    if holders_only:
        query = query.where(sa.exists().where(Grant.person_id == Person.id))
    rows = db.session.execute(query.order_by(Person.employee_id).limit(SEARCH_LIMIT)).all()
    by_person: dict[int, list[Grant]] = {}
    if rows:
        for grant in db.session.scalars(
            sa.select(Grant)
            .where(Grant.person_id.in_([person.id for person, _s, _w in rows]))
            .options(so.joinedload(Grant.ward))
        ):
            by_person.setdefault(grant.person_id, []).append(grant)
    moment = now or utcnow()
    return [
        PersonRow(person, section, ward, held_grants(by_person.get(person.id, []), moment))
        for person, section, ward in rows
    ]


@dataclass(frozen=True)
class PersonDetail:
    person: Person
    assignments: list[Assignment]
    grants: list[HeldGrant]
    last_sign_in: datetime | None
    has_password: bool
    grants_in_force: set[int]


def person_detail(person: Person, now: datetime | None = None) -> PersonDetail:
    """The person's years on the roster (newest first), grants (which work, which have
    ended, which end soon) and last sign-in."""
    now = now or utcnow()
    assignments = list(
        db.session.scalars(
            sa.select(Assignment)
            .where(Assignment.person_id == person.id)
            .options(so.joinedload(Assignment.section).joinedload(Section.ward))
            .order_by(Assignment.fiscal_year.desc())
        )
    )
    last = db.session.scalar(
        sa.select(sa.func.max(LoginAttempt.at)).where(
            LoginAttempt.employee_id == person.employee_id, LoginAttempt.succeeded.is_(True)
        )
    )
    return PersonDetail(
        person=person,
        assignments=assignments,
        grants=held_grants(list(person.grants), now),
        last_sign_in=last,
        has_password=person.password_hash is not None,
        grants_in_force=grants_in_force(person, now),
    )


def _grant_ward(ward_id: int | None, scope: set[int] | None) -> Ward | None:
    if ward_id is None:
        if not is_city(scope):
            raise PeopleError(_("全市の権限は、全市の管理者だけが変えられます。"))
        return None
    if not covers(scope, [ward_id]):
        raise PeopleError(_("ほかの区の権限は変えられません。"))
    ward = db.session.get(Ward, ward_id)
    if ward is None:
        raise PeopleError(_("その区はありません。"))
    return ward


def change_grant(
    admin: Person | None,
    person: Person,
    role: GrantRole,
    ward_id: int | None,
    scope: set[int] | None,
    *,
    grant: bool,
    ends_on: date | None = None,
) -> bool:
    """Grant (or revoke) ``role`` for a ward (None: the city) within the admin's ``scope``;
    a grant lasts until ``ends_on`` (None: until revoked), and granting a held role again sets
    its end date (``grants.grant_role``). Audited, the end date in the row's ``after``
    (``admin`` None: the command line). False when nothing changed. PeopleError outside the
    scope, nothing written."""
    ward = _grant_ward(ward_id, scope)
    value: dict[str, object] = {"role": role.value, "ward_id": ward_id}
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    if grant:
        change = grant_role(person, role, ward, ends_on)
        changed = change.changed
        after = {**value, "ends_on": _day(ends_on)}
        if change.existed:  # an end date set, moved or removed
            before = {**value, "ends_on": _day(change.ends_on_before)}
    else:
        changed = revoke_role(person, role, ward)
        before = value
    if changed:
        audit.record(
            "grant.add" if grant else "grant.revoke",
            actor=admin,
            target_type="person",
            target_id=person.id,
            before=before,
            after=after,
            ward_id=ward_id if ward_id is not None else person_ward_id(person),
        )
    return changed


def _day(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def set_sign_in_blocked(
    admin: Person, person: Person, blocked: bool, scope: set[int] | None
) -> bool:
    """Mark that the person may (not) sign in; audited. False when it was so already.
    PeopleError for a person holding authority outside the admin's ``scope``."""
    require_identity_in_scope(person, scope)
    if admin.id == person.id and blocked:
        raise PeopleError(_("自分自身のサインインは止められません。"))
    if person.sign_in_blocked == blocked:
        return False
    audit.record(
        "person.sign_in_blocked" if blocked else "person.sign_in_allowed",
        actor=admin,
        target_type="person",
        target_id=person.id,
        before={"sign_in_blocked": person.sign_in_blocked},
        after={"sign_in_blocked": blocked},
        ward_id=person_ward_id(person),
    )
    person.sign_in_blocked = blocked
    db.session.flush()
    return True


def log_password_set(actor: Person | None, person: Person, via: str) -> None:
    """Audit a new password (never the password): set by the person through a one-time link
    (``via`` "link", the actor is the person) or by the command line ("command", no actor)."""
    audit.record(
        "person.password_set",
        actor=actor,
        target_type="person",
        target_id=person.id,
        after={"via": via},
        ward_id=person_ward_id(person),
    )


def log_password_link(admin: Person | None, person: Person, expires: datetime) -> None:
    """Audit the issue of a one-time password link (the link itself is never logged)."""
    audit.record(
        "person.password_link",
        actor=admin,
        target_type="person",
        target_id=person.id,
        after={"expires": expires.isoformat()},
        ward_id=person_ward_id(person),
    )
