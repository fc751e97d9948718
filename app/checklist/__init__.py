"""The person's own pages: my rounds, the checklist, and the chief's view of the section."""

from flask import Blueprint, request

from app.extensions import db

bp = Blueprint("checklist", __name__)


@bp.before_request
def _pages_read_without_a_transaction() -> None:
    """The area's pages (GET, HEAD) only read: their statements run without a transaction
    (``AUTOCOMMIT``), which saves the BEGIN and COMMIT round trips, and on SQLite takes no
    write lock. Each statement sees what was committed when it starts; no page here needs two
    of them to agree beyond that (the person, then the round with the person's answers)."""
    if request.method in ("GET", "HEAD"):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
