"""Intranet single sign-on: trust an employee id in a header set by the reverse proxy.

Off unless ``AUTH_TRUSTED_HEADER`` names the header. Read the warning in docs/auth.md: the
header must be settable by nobody but the authenticating proxy.
"""

from __future__ import annotations

from flask import Request, current_app, g
from flask_login import current_user

from app.access import SignedIn, load_signed_in
from app.services.identity.auth import EMPLOYEE_ID_LENGTH, normalise_employee_id


def header_text(value: str) -> str:
    """A header value as the proxy wrote it. WSGI hands headers over as latin-1 text
    (PEP 3333); proxies send UTF-8, so an id with full-width characters arrives as mojibake
    unless its bytes are decoded again. A value that is not UTF-8 is kept as it came."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def load_person_from_header(request: Request) -> SignedIn | None:
    """Flask-Login's request loader: the person named by the trusted header, for this request.

    Runs only when the session has no signed-in person. The id is decoded as UTF-8,
    NFKC-normalised and trimmed, like the roster's; a person who has left signs nobody in.
    Marks ``g`` so that the pages can say how the person is signed in, or that the header's
    id is not on the roster.
    """
    header = current_app.config.get("AUTH_TRUSTED_HEADER")
    if not header:
        return None
    raw = header_text(request.headers.get(header, ""))
    employee_id = normalise_employee_id(raw)[:EMPLOYEE_ID_LENGTH]
    if not employee_id:
        return None
    person = load_signed_in("employee_id", employee_id)
    if person is None:
        g.kijun_unknown_header_id = employee_id
        return None
    g.kijun_signed_in_by_header = True
    return person


def unknown_header_id() -> str | None:
    """The employee id the trusted header gave when no such person is on the roster."""
    if current_user.is_authenticated:
        return None
    unknown: str | None = g.get("kijun_unknown_header_id")
    return unknown


def signed_in_by_header() -> bool:
    """Whether this request's person comes from the trusted header (no session to end)."""
    return bool(current_user.is_authenticated and g.get("kijun_signed_in_by_header"))
