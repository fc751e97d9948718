"""Sessions that end (docs/auth.md, "Sessions").

A signed-in session carries, besides Flask-Login's ``_user_id``, the person's
``session_version`` at sign-in, the time of the sign-in and the time it was last used. It is
signed in only while

- the version is still the person's (sign-out and a password change raise it: every older
  session of the person ends, on the server's side, whatever the browser kept);
- it was used within ``SESSION_IDLE_MINUTES`` (default 120);
- it was signed in within ``SESSION_ABSOLUTE_HOURS`` (default 12).

The version is compared with the column loaded by the one sign-in query of each request
(``app.access.load_signed_in``): ending sessions costs no query of its own.

A session started by a personal sign-in link (``start_link_session``) also holds the link's
round (``app.access.VIA_LINK``): it is a person only, on the person's own checklists.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import current_app, flash, session
from flask_babel import gettext as _
from flask_login import login_user

from app.access import VIA_LINK, SignedIn, load_signed_in
from app.models import Person

SESSION_VERSION = "_kijun_version"
SIGNED_IN_AT = "_kijun_signed_in_at"
SEEN_AT = "_kijun_seen_at"
# The last-used time is written back at most this often, so that the cookie is not rewritten
# on every page view.
TOUCH_EVERY_SECONDS = 60


def session_values(person_id: int, version: int, now: float | None = None) -> dict[str, Any]:
    """What a session signed in as ``person_id`` (with their ``session_version``) holds."""
    at = int(time.time() if now is None else now)
    return {
        "_user_id": str(person_id),
        "_fresh": True,
        SESSION_VERSION: version,
        SIGNED_IN_AT: at,
        SEEN_AT: at,
    }


def start_session(person: Person) -> None:
    """Sign the person in on a new session: nothing from before the sign-in survives."""
    session.clear()
    login_user(person, remember=False)
    session.update(session_values(person.id, person.session_version))


def start_link_session(person: Person, round_id: int) -> None:
    """Sign the person in on a new session from their sign-in link of ``round_id``: nothing
    from before survives (a session planted before the click is not kept), and the session is
    limited to the person's own checklists (``app.access.access``)."""
    start_session(person)
    session[VIA_LINK] = round_id


def _lifetimes(config: Mapping[str, Any]) -> tuple[float, float]:
    """The idle and the absolute lifetime of a session, in seconds."""
    idle = float(config.get("SESSION_IDLE_MINUTES", 120)) * 60
    absolute = float(config.get("SESSION_ABSOLUTE_HOURS", 12)) * 3600
    return idle, absolute


def _end(message: bool) -> None:
    for key in ("_user_id", "_fresh", "_id", SESSION_VERSION, SIGNED_IN_AT, SEEN_AT, VIA_LINK):
        session.pop(key, None)
    if message:
        flash(_("サインインの有効期限が切れました。もう一度サインインしてください。"), "info")


def load_session_person(user_id: str) -> SignedIn | None:
    """Flask-Login's user loader: the person of this session, or None when the session has
    ended (too long unused or since the sign-in, signed out elsewhere, a new password, or the
    person has left); an ended session is emptied of its sign-in."""
    now = time.time()
    signed_in_at = session.get(SIGNED_IN_AT)
    seen_at = session.get(SEEN_AT)
    version = session.get(SESSION_VERSION)
    if not (isinstance(signed_in_at, int) and isinstance(seen_at, int)) or not isinstance(
        version, int
    ):
        _end(message=False)  # not written by start_session (e.g. before the upgrade)
        return None
    idle, absolute = _lifetimes(current_app.config)
    if now - seen_at > idle or now - signed_in_at > absolute:
        _end(message=True)
        return None
    try:
        person_id = int(user_id)
    except ValueError:
        _end(message=False)
        return None
    person = load_signed_in("id", person_id)
    if person is None or person.session_version != version:
        _end(message=True)
        return None
    if now - seen_at >= TOUCH_EVERY_SECONDS:
        session[SEEN_AT] = int(now)
    return person
