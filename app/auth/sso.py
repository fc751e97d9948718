"""Intranet single sign-on: trust an employee id in a header set by the reverse proxy.

Off unless ``AUTH_TRUSTED_HEADER`` names the header. Read the warning in docs/auth.md: the
header must be settable by nobody but the authenticating proxy.
"""

from __future__ import annotations

from flask import Request, current_app, g
from flask_login import current_user

from app.access import load_signed_in
from app.models import Person
from app.services.auth import EMPLOYEE_ID_LENGTH, normalise_employee_id


def load_person_from_header(request: Request) -> Person | None:
    """Flask-Login's request loader: the person named by the trusted header, for this request.

    Runs only when the session has no signed-in person. Marks ``g`` so that the pages can say
    how the person is signed in, or that the header's id is not on the roster.
    """
    header = current_app.config.get("AUTH_TRUSTED_HEADER")
    if not header:
        return None
    employee_id = normalise_employee_id(request.headers.get(header, ""))[:EMPLOYEE_ID_LENGTH]
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
    return g.get("kijun_unknown_header_id")


def signed_in_by_header() -> bool:
    """Whether this request's person comes from the trusted header (no session to end)."""
    return bool(current_user.is_authenticated and g.get("kijun_signed_in_by_header"))
