"""Sign-in rules: passwords, ending sessions, who has left the roster, throttling of failed
attempts, one-time set-password links.

Functions here flush but never commit; the view or command that calls them commits.
See docs/auth.md for the policy in plain words.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import Assignment, LoginAttempt, Person, PersonRef, Section, utcnow
from app.services.errors import DomainError
from app.services.identity.directory import directory_bind, directory_enabled
from app.wareki import fiscal_year_of, tokyo

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
PASSWORD_LINK_SALT = "kijun.set-password"  # noqa: S105 - a salt, not a password

EMPLOYEE_ID_LENGTH = 32
ADDRESS_LENGTH = 64


# --- People and passwords -------------------------------------------------------------------


def normalise_employee_id(value: str) -> str:
    """NFKC and stripped, as the roster import stores it: full-width digits become half-width."""
    return unicodedata.normalize("NFKC", value or "").strip()


def find_person(employee_id: str) -> Person | None:
    """The person with this employee id (normalised first), or None."""
    key = normalise_employee_id(employee_id)
    if not key:
        return None
    return db.session.scalar(sa.select(Person).where(Person.employee_id == key))


class PasswordRuleError(DomainError, ValueError):
    """A new password breaks the rules; ``message`` is plain Japanese for the person."""


def password_problem(password: str) -> str | None:
    """Why this new password is refused (plain Japanese), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("パスワードは%(n)d文字以上にしてください。", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("パスワードは%(n)d文字以内にしてください。", n=MAX_PASSWORD_LENGTH)
    return None


def set_password(person: Person, password: str) -> None:
    """Hash (werkzeug's default, scrypt) and store a new password; raise PasswordRuleError.
    Every session of the person ends (``end_sessions``)."""
    problem = password_problem(password)
    if problem:
        raise PasswordRuleError(problem)
    person.password_hash = generate_password_hash(password)
    db.session.flush()
    end_sessions(person)


def end_sessions(person: PersonRef) -> None:
    """Sign the person out everywhere: every session signed in before now stops working.

    Sessions carry the person's ``session_version`` from their sign-in; raising it in one
    UPDATE (never a lost increment, whatever else runs) makes every older session stale.
    """
    db.session.execute(
        sa.update(Person)
        .where(Person.id == person.id)
        .values(session_version=Person.session_version + 1),
        execution_options={"synchronize_session": "fetch"},
    )
    db.session.flush()


# --- Leavers ----------------------------------------------------------------------------------


def has_left_clause(fiscal_year: Any) -> sa.ColumnElement[bool]:
    """SQL, correlated to ``Person``: the latest roster shows the person as having left.

    That is: no assignment in ``fiscal_year`` (a value or a bind parameter), although they had
    one in an earlier year, and the ward of their last earlier assignment has its roster of
    ``fiscal_year`` imported. So nobody is a leaver in April before the new roster is in,
    and a committee member or admin who was never on any ward's roster is never one.
    """
    this_year = so.aliased(Assignment)
    last = so.aliased(Assignment)
    last_section = so.aliased(Section)
    earlier = so.aliased(Assignment)
    ward_member = so.aliased(Assignment)
    ward_section = so.aliased(Section)
    last_year = (
        sa.select(sa.func.max(earlier.fiscal_year))
        .where(earlier.person_id == last.person_id, earlier.fiscal_year < fiscal_year)
        .scalar_subquery()
    )
    ward_roster_in = sa.exists().where(
        ward_member.fiscal_year == fiscal_year,
        ward_member.section_id == ward_section.id,
        ward_section.ward_id == last_section.ward_id,
    )
    return sa.and_(
        ~sa.exists().where(this_year.person_id == Person.id, this_year.fiscal_year == fiscal_year),
        sa.exists().where(
            last.person_id == Person.id,
            last.fiscal_year == last_year,
            last.section_id == last_section.id,
            ward_roster_in,
        ),
    )


def has_left(person: PersonRef, now: datetime | None = None) -> bool:
    """Whether the latest roster shows this person as having left (``has_left_clause``)."""
    fiscal_year = fiscal_year_of(tokyo(now or utcnow()))
    return bool(
        db.session.scalar(sa.select(has_left_clause(fiscal_year)).where(Person.id == person.id))
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to check against when there is no account, so that both cases take as long."""
    return generate_password_hash("kijun: no such account")


# --- Throttling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    """At most ``per_account`` failures for one employee id and ``per_address`` from one
    client address within ``window``; beyond that, attempts are refused unchecked."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ThrottlePolicy:
        """The policy from ``LOGIN_MAX_FAILURES_PER_ACCOUNT``, ``..._PER_ADDRESS`` and
        ``LOGIN_FAILURE_WINDOW_MINUTES``."""
        return cls(
            per_account=int(config.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)),
            per_address=int(config.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
            window=timedelta(minutes=float(config.get("LOGIN_FAILURE_WINDOW_MINUTES", 15))),
        )

    @property
    def window_minutes(self) -> int:
        return max(1, round(self.window.total_seconds() / 60))


class SignInOutcome(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"  # unknown id, no password set, or wrong password: never said which
    THROTTLED = "throttled"  # too many recent failures: the password was not checked
    LEFT = "left"  # the right password, but the latest roster shows the person has left


@dataclass(frozen=True)
class SignInResult:
    outcome: SignInOutcome
    person: Person | None = None


def _failures_since(column: so.InstrumentedAttribute[str], value: str, since: datetime) -> int:
    count = db.session.scalar(
        sa.select(sa.func.count(LoginAttempt.id)).where(
            column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since
        )
    )
    return int(count or 0)


def is_throttled(
    employee_id: str, address: str, policy: ThrottlePolicy, now: datetime | None = None
) -> bool:
    """Whether this account or this address has used up its failures in the window.

    For an account, failures before its last successful sign-in do not count; for an address
    they always do (one known password must not unlock guessing at other accounts).
    """
    now = now or utcnow()
    window_start = now - policy.window
    last_success = db.session.scalar(
        sa.select(sa.func.max(LoginAttempt.at)).where(
            LoginAttempt.employee_id == employee_id,
            LoginAttempt.succeeded.is_(True),
            LoginAttempt.at > window_start,
        )
    )
    since = max(window_start, last_success) if last_success else window_start
    if _failures_since(LoginAttempt.employee_id, employee_id, since) >= policy.per_account:
        return True
    return address_throttled(address, policy, now)


def address_throttled(address: str, policy: ThrottlePolicy, now: datetime | None = None) -> bool:
    """Whether this client address has used up its failures in the window: wrong passwords
    and wrong sign-in links count alike (``app.services.identity.links``)."""
    window_start = (now or utcnow()) - policy.window
    return _failures_since(LoginAttempt.address, address, window_start) >= policy.per_address


def check_sign_in(
    employee_id: str,
    password: str,
    address: str,
    policy: ThrottlePolicy | None = None,
    now: datetime | None = None,
) -> SignInResult:
    """Check an employee id and password typed into the sign-in form, throttled.

    When the account or the address is throttled the password is not checked and nothing is
    recorded. Otherwise the attempt is recorded as a ``LoginAttempt`` (flushed) and the result
    says OK with the person, or FAILED for an unknown id, a person without a password and a
    wrong password alike (the same work is done in each case, so timing does not tell), or
    LEFT for the right password of a person the latest roster shows as having left (recorded
    as a failure).

    The person's row is locked (``FOR UPDATE`` on PostgreSQL; SQLite's BEGIN IMMEDIATE
    serialises whole transactions) before the failures are counted, and stays locked until
    the caller commits the recorded attempt: concurrent tries of one account are counted and
    checked one after the other, so no more than the limit are ever checked.
    """
    policy = policy or ThrottlePolicy.from_config(current_app.config)
    now = now or utcnow()
    key = normalise_employee_id(employee_id)[:EMPLOYEE_ID_LENGTH]
    address = (address or "")[:ADDRESS_LENGTH]
    person = (
        db.session.scalar(sa.select(Person).where(Person.employee_id == key).with_for_update())
        if key
        else None
    )
    if is_throttled(key, address, policy, now):
        return SignInResult(SignInOutcome.THROTTLED)
    stored = person.password_hash if person is not None else None
    if person is not None and person.sign_in_blocked:
        stored = None  # blocked by an admin: refused like a wrong password
    if directory_enabled(current_app.config):
        # Directory sign-in: only a person on Kijun's roster, not blocked, may pass.
        ok = person is not None and not person.sign_in_blocked and directory_bind(
            current_app.config, key, password
        )
    else:
        ok = check_password_hash(stored or _dummy_hash(), password) and stored is not None
    left = ok and person is not None and has_left(person, now)
    db.session.add(
        LoginAttempt(employee_id=key, address=address, at=now, succeeded=ok and not left)
    )
    db.session.flush()
    if left:
        return SignInResult(SignInOutcome.LEFT)
    if ok:
        return SignInResult(SignInOutcome.OK, person)
    return SignInResult(SignInOutcome.FAILED)


def prune_login_attempts(older_than: datetime) -> int:
    """Delete the attempts recorded before ``older_than``; return how many went (flushed)."""
    result = db.session.execute(
        sa.delete(LoginAttempt).where(LoginAttempt.at < older_than),
        execution_options={"synchronize_session": False},
    )
    db.session.flush()
    return int(cast(sa.CursorResult[Any], result).rowcount or 0)


# --- One-time set-password links ------------------------------------------------------------


class PasswordLinkError(Exception):
    """A set-password link cannot be used: ``reason`` is "expired" or "invalid" (which
    includes a link already used: setting the password changes what the link was bound to)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=PASSWORD_LINK_SALT)


def _fingerprint(password_hash: str | None) -> str:
    """A keyed digest of the current password hash: the link dies when the password changes."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, (password_hash or "").encode(), hashlib.sha256).hexdigest()
    return digest[:24]


def link_max_age() -> int:
    """Seconds a link stays valid: ``PASSWORD_LINK_MAX_AGE`` (seconds or a timedelta)."""
    value = current_app.config.get("PASSWORD_LINK_MAX_AGE", 72 * 3600)
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return int(value)


def password_link_token(person: Person) -> str:
    """A signed, timed token for ``/auth/set-password/<token>``, good until the password
    changes or ``link_max_age()`` seconds pass."""
    return str(_serializer().dumps({"p": person.id, "f": _fingerprint(person.password_hash)}))


def person_for_token(token: str) -> Person:
    """The person a set-password token is for; raise PasswordLinkError if unusable."""
    try:
        data = _serializer().loads(token, max_age=link_max_age())
    except SignatureExpired as exc:
        raise PasswordLinkError("expired") from exc
    except BadSignature as exc:
        raise PasswordLinkError("invalid") from exc
    if not isinstance(data, dict) or not isinstance(data.get("p"), int):
        raise PasswordLinkError("invalid")
    person = db.session.get(Person, data["p"])
    if person is None or not hmac.compare_digest(
        str(data.get("f", "")), _fingerprint(person.password_hash)
    ):
        raise PasswordLinkError("invalid")
    return person


def redeem_password_token(token: str, password: str) -> Person:
    """Set the password a link is for, once: raise PasswordLinkError or PasswordRuleError.
    The person is signed out everywhere (their sessions end, as with ``end_sessions``).

    The update only happens while the password hash is still the one the link was made for,
    so two requests racing with the same link cannot both succeed.
    """
    person = person_for_token(token)
    problem = password_problem(password)
    if problem:
        raise PasswordRuleError(problem)
    old_hash = person.password_hash
    result = db.session.execute(
        sa.update(Person)
        .where(Person.id == person.id, Person.password_hash.is_not_distinct_from(old_hash))
        .values(
            password_hash=generate_password_hash(password),
            # A new password signs the person out everywhere (see end_sessions).
            session_version=Person.session_version + 1,
        ),
        execution_options={"synchronize_session": "fetch"},
    )
    if cast(sa.CursorResult[Any], result).rowcount != 1:
        raise PasswordLinkError("invalid")
    db.session.flush()
    return person
