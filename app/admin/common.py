"""What the admin area's views share: the signed-in admin and the wards they manage.

Every module of the area imports these from here, never from a sibling module.
"""

from __future__ import annotations

from app.access import signed_in, signed_in_person, ward_scope
from app.models import Person


def signed_in_admin() -> Person:
    """The signed-in admin's ``Person`` (the views are ``access("admin")``)."""
    return signed_in_person()


def admin_scope() -> set[int] | None:
    """The ids of the wards the signed-in admin manages (None: every ward)."""
    return ward_scope(signed_in(), "admin")
