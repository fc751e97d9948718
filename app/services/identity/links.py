"""Personal sign-in links: one click from a round's mail to one's own checklist
(docs/auth.md, "Sign-in links").

A link is ``BASE_URL/r/<token>``: a random token (``secrets.token_urlsafe(32)``) made when the
scheduler renders a message that carries it (``issue_links``, one INSERT for the batch), of
which only the SHA-256 is stored (``sign_in_link.token_hash``). It is bound to one person and
one round and signs that person in (``check_link``) while the round is open, unless it was
revoked (an admin: ``revoke_person_links``, ``revoke_round_links``; the person's sign-out:
``revoke_on_sign_out``), the person is blocked or has left. Wrong tokens count as failed
sign-ins of the client address (``LoginAttempt``), throttled like passwords. The session a link
starts may use only the person's own checklists and receipts (``app/access.py``, ``access``).

The token is never logged, never audited and never stored: issuing and revoking are audited in
counts. A refused link is not audited (like a refused password, docs/audit.md: an anonymous
client must not grow the log); a wrong token is a failed attempt of the address. Functions here
flush but never commit.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import LoginAttempt, Person, Round, SignInLink, round_state, utcnow
from app.services.governance import audit
from app.services.identity.auth import (
    ADDRESS_LENGTH,
    ThrottlePolicy,
    address_throttled,
    has_left_clause,
)
from app.services.organisation.people import person_ward_id
from app.services.rounds.audience import join_audience
from app.wareki import fiscal_year_of, tokyo

# The path of a link, below BASE_URL (the view: app/auth/routes.py ``sign_in_link``).
LINK_PATH = "/r/"
TOKEN_BYTES = 32
# The employee id a wrong link's failed attempt is recorded under: none (the sign-in form
# requires one, so no password attempt is ever recorded with it).
LINK_ATTEMPT = ""


def links_enabled(config: Mapping[str, Any]) -> bool:
    """Whether the round's mail carries sign-in links (``SIGN_IN_LINKS``, default True)."""
    return bool(config.get("SIGN_IN_LINKS", True))


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_url(base_url: str, token: str) -> str:
    """The address a message gives for a token."""
    return f"{base_url.rstrip('/')}{LINK_PATH}{token}"


def issue_links(pairs: Sequence[tuple[int, int]], now: datetime) -> list[str]:
    """A new link for each (person id, round id), in order: the tokens, in clear for the
    messages (never kept), and their hashes written in one INSERT (an executemany).
    Flushes, never commits."""
    tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in pairs]
    if pairs:
        table = cast(sa.Table, SignInLink.__table__)
        db.session.execute(
            sa.insert(table),
            [
                {"person_id": person_id, "round_id": round_id,
                 "token_hash": token_hash(token), "created_at": now}
                for (person_id, round_id), token in zip(pairs, tokens, strict=True)
            ],
        )
    return tokens


def record_issued(issued: Mapping[int, int]) -> None:
    """The audit log's rows for links issued (actor None: the scheduler): one per round,
    with how many. Never a token."""
    for round_id, count in sorted(issued.items()):
        if count:
            audit.record("sign_in_link.issue", actor=None, target_type="round",
                         target_id=round_id, after={"links": count},
                         ward_id=_round_ward(round_id))


# --- Using a link --------------------------------------------------------------------------------


class LinkOutcome(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such token (a wrong or made-up one): a failed attempt
    THROTTLED = "throttled"  # too many failures from the address: the token was not looked up
    REVOKED = "revoked"  # revoked by an admin or by the person's sign-out
    CLOSED = "closed"  # the round is not open (closed, or not yet open)
    BLOCKED = "blocked"  # an admin marked the person "may not sign in"
    LEFT = "left"  # the latest roster shows the person as having left


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    person: Person | None = None
    round_id: int | None = None


def check_link(
    token: str,
    address: str,
    policy: ThrottlePolicy | None = None,
    now: datetime | None = None,
) -> LinkResult:
    """Whether a link's token signs someone in now, and whom, for which round.

    Throttled per client address like the sign-in form (``address_throttled``: wrong
    passwords and wrong tokens count together); while throttled the token is not even looked
    up. The token's hash is looked up by the unique index, then compared with the stored one
    by ``hmac.compare_digest``; a token that matches nothing is recorded as a failed attempt
    of the address (flushed). A known token of a revoked link, a round that is not open, a
    blocked person or one who has left (or whom the round no longer asks) is refused without
    counting as a failure (whoever holds it got it from the mail)."""
    policy = policy or ThrottlePolicy.from_config(current_app.config)
    now = now or utcnow()
    address = (address or "")[:ADDRESS_LENGTH]
    if address_throttled(address, policy, now):
        return LinkResult(LinkOutcome.THROTTLED)
    digest = token_hash(token)
    row = db.session.execute(
        sa.select(
            SignInLink, Person, Round.opens_at, Round.closes_at,
            has_left_clause(fiscal_year_of(tokyo(now))).label("left"),
        )
        .join(Person, Person.id == SignInLink.person_id)
        .join(Round, Round.id == SignInLink.round_id)
        .where(SignInLink.token_hash == digest)
    ).first()
    if row is None or not hmac.compare_digest(row.SignInLink.token_hash, digest):
        db.session.add(LoginAttempt(employee_id=LINK_ATTEMPT, address=address, at=now,
                                    succeeded=False))
        db.session.flush()
        return LinkResult(LinkOutcome.UNKNOWN)
    link: SignInLink = row.SignInLink
    person: Person = row.Person
    outcome = LinkOutcome.OK
    if link.revoked_at is not None:
        outcome = LinkOutcome.REVOKED
    elif round_state(row.opens_at, row.closes_at, now) != "open":
        outcome = LinkOutcome.CLOSED
    elif person.sign_in_blocked:
        outcome = LinkOutcome.BLOCKED
    elif row.left or not _asked(link.round_id, person.id):
        outcome = LinkOutcome.LEFT
    return LinkResult(outcome, person, link.round_id)


def _asked(round_id: int, person_id: int) -> bool:
    """Whether the round still asks the person (``audience.join_audience``): a roster of the
    round's year that no longer names them (someone who left in a ward's first year, with no
    earlier year for ``has_left_clause`` to go by) ends their links."""
    asked = join_audience(
        sa.select(Round.id).where(Round.id == round_id), person_id=person_id
    ).exists()
    return bool(db.session.scalar(sa.select(asked)))


# --- Revoking ------------------------------------------------------------------------------------


def _revoke(where: sa.ColumnElement[bool], now: datetime, keep: int | None = None) -> int:
    """Revoke the links still good that ``where`` picks, and end their people's sessions (a
    session a link opened ends with it; the person signs in again), except the sessions of
    ``keep`` (the admin who revokes). Two statements."""
    live = sa.and_(where, SignInLink.revoked_at.is_(None))
    holders = sa.select(SignInLink.person_id).where(live)
    if keep is not None:
        holders = holders.where(SignInLink.person_id != keep)
    db.session.execute(
        sa.update(Person)
        .where(Person.id.in_(holders))
        .values(session_version=Person.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(
        sa.update(SignInLink).where(live).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return int(cast(sa.CursorResult[Any], result).rowcount or 0)


def revoke_person_links(admin: Person, person: Person, now: datetime | None = None) -> int:
    """An admin revokes every link of the person still good (all rounds), which ends the
    sessions they opened; audited with the number. Returns it."""
    count = _revoke(SignInLink.person_id == person.id, now or utcnow(), keep=admin.id)
    audit.record("sign_in_link.revoke", actor=admin, target_type="person", target_id=person.id,
                 after={"links": count}, ward_id=person_ward_id(person))
    return count


def revoke_round_links(admin: Person, round_: Round, now: datetime | None = None) -> int:
    """An admin revokes every link of the round still good, which ends the sessions they
    opened (the admin's own excepted); audited with the number. Returns it."""
    count = _revoke(SignInLink.round_id == round_.id, now or utcnow(), keep=admin.id)
    audit.record("sign_in_link.revoke", actor=admin, target_type="round", target_id=round_.id,
                 after={"links": count},
                 ward_id=audit.single_ward([ward.id for ward in round_.wards]))
    return count


def revoke_on_sign_out(person_id: int, round_id: int, now: datetime | None = None) -> int:
    """The person signs out of a session their link of ``round_id`` opened: that round's links
    of theirs stop working (a copy of the mail no longer signs anyone in). Audited."""
    count = _revoke(
        sa.and_(SignInLink.person_id == person_id, SignInLink.round_id == round_id),
        now or utcnow(),
    )
    person = db.session.get(Person, person_id)
    if count and person is not None:
        audit.record("sign_in_link.revoke", actor=person, target_type="person",
                     target_id=person_id, after={"links": count, "sign_out": True},
                     ward_id=person_ward_id(person))
    return count


# --- Reading -------------------------------------------------------------------------------------


def live_links_of_person(person_id: int) -> int:
    """How many of the person's links are still good (not revoked, their round open)."""
    return _count_live(SignInLink.person_id == person_id)


def live_links_of_round(round_id: int) -> int:
    """How many links of the round are still good (not revoked, the round open)."""
    return _count_live(SignInLink.round_id == round_id)


def _count_live(where: sa.ColumnElement[bool]) -> int:
    now = utcnow()
    return int(
        db.session.scalar(
            sa.select(sa.func.count(SignInLink.id))
            .join(Round, Round.id == SignInLink.round_id)
            .where(where, SignInLink.revoked_at.is_(None), Round.open_at(now))
        )
        or 0
    )


def _round_ward(round_id: int) -> int | None:
    round_ = db.session.get(Round, round_id)
    return audit.single_ward([ward.id for ward in round_.wards]) if round_ is not None else None
