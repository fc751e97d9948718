"""The administrator's pages: create and edit survey rounds, and read each round's send
ledger (docs/scheduler.md); the roster, people and grants, catalogues, published tables and
the audit log. One module per page family; what they share (the signed-in admin, the wards
they manage) is ``app/admin/common.py``, and no view module imports another."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
