"""The person's own pages: my rounds, the checklist, and the chief's view of the section."""

from flask import Blueprint, request

from app.extensions import start_without_transaction

bp = Blueprint("checklist", __name__)


@bp.before_request
def _checklist_starts_without_a_transaction() -> None:
    """The area's pages (GET, HEAD) only read, and the checklist's save begins the transaction
    it needs: they start without one (``start_without_transaction``). Each statement of a
    page sees what was committed when it starts; no page here needs two of them to agree
    beyond that (the person, then the round with the person's answers)."""
    if request.method in ("GET", "HEAD") or request.endpoint == "checklist.checklist":
        start_without_transaction()
