"""The first admin of an empty database (``flask users create-admin``, docs/admin.md "The first
admin"): once, while nobody holds an admin grant.

Every later admin is granted by an admin (the people page) or with ``flask users grant``; so a
shell user cannot use this to add a second admin quietly. The check is made again after the
audit row, which on PostgreSQL holds the log's writers' lock until the commit: of two commands
run at once, the second sees the first's grant and is refused. Functions flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import Grant, GrantRole, Person, Ward
from app.services.errors import DomainError
from app.services.governance import audit
from app.services.identity.auth import find_person
from app.services.organisation.grants import grant_role
from app.services.organisation.roster_file import RosterError, person_values


class FirstAdminError(DomainError):
    """The first admin cannot be made; ``message`` is plain Japanese."""


ALREADY = (
    "管理者がすでにいます。最初の管理者はデータベースに管理者が1人もいないときに1回だけ作れます。"
    "ほかの人には、管理者が「職員と権限」のページか flask --app wsgi users grant admin "
    "で権限を与えてください。"
)


@dataclass(frozen=True)
class FirstAdmin:
    """Who was made the first admin, and what was created for it."""

    person: Person
    ward: Ward | None  # None: the whole city
    person_created: bool


def admin_exists() -> bool:
    """Whether anybody holds an admin grant (of a ward or the city), in force or not."""
    return db.session.scalar(
        sa.select(sa.exists().where(Grant.role == GrantRole.ADMIN))
    ) is True


def require_no_admin() -> None:
    """FirstAdminError (``ALREADY``) once any admin grant exists."""
    if admin_exists():
        raise FirstAdminError(ALREADY)


def create_first_admin(
    employee_id: str, name: str | None, email: str | None, ward: Ward | None,
    *, ward_created: bool = False,
) -> FirstAdmin:
    """Make the person (a new one from the values, checked as a roster line is; an existing
    one as stored) the admin of ``ward`` (None: the city) and audit it (``person.first_admin``,
    no actor: the command line). FirstAdminError when an admin exists or a value is wrong."""
    require_no_admin()
    person = find_person(employee_id)
    created = person is None
    if person is None:
        person = _new_person(employee_id, name, email)
    grant_role(person, GrantRole.ADMIN, ward)
    audit.record(
        "person.first_admin", actor=None, target_type="person", target_id=person.id,
        after={"role": GrantRole.ADMIN.value, "ward_id": ward.id if ward else None,
               "ward_created": ward_created, "person_created": created},
        ward_id=ward.id if ward else None,
    )
    # Again under the log's lock: a command run at the same time committed its admin by now.
    admins = db.session.scalar(
        sa.select(sa.func.count()).select_from(Grant).where(Grant.role == GrantRole.ADMIN)
    )
    if admins != 1:
        raise FirstAdminError(ALREADY)
    return FirstAdmin(person, ward, created)


def _new_person(employee_id: str, name: str | None, email: str | None) -> Person:
    if not name or not email:
        raise FirstAdminError(
            f"職員番号 {employee_id} の人はまだいません。"
            "--name（氏名）と --email（メールアドレス）を付けてください。"
        )
    try:
        key, clean_name, clean_email = person_values(employee_id, name, email)
    except RosterError as exc:
        raise FirstAdminError(exc.errors) from exc
    person = Person(employee_id=key, name=clean_name, email=clean_email)
    db.session.add(person)
    db.session.flush()
    return person
