"""The demo's mailbox: the mail the demo's scheduler wrote (``app.services.operations.
demo_mailbox``), so that a newcomer trying Kijun sees the opening mail, the reminders and the
receipts. A 404 unless ``DEMO_MAILBOX`` is on: an installation never has this page."""

from __future__ import annotations

from flask import abort, render_template, request

from app.access import access
from app.demo import bp
from app.services.operations.demo_mailbox import demo_message, demo_messages, mailbox_enabled


@bp.get("/mail")
@access("public")
def mailbox() -> str:
    """Public, demo only: the newest messages the demo sent, filtered by address (``?to=``)."""
    if not mailbox_enabled():
        abort(404)
    to = request.args.get("to", "")[:200]
    messages, total = demo_messages(to)
    return render_template("demo/mailbox.html", messages=messages, total=total, to=to)


@bp.get("/mail/<name>")
@access("public")
def message(name: str) -> str:
    """Public, demo only: one message as it was written (headers and text)."""
    found = demo_message(name) if mailbox_enabled() else None
    if found is None:
        abort(404)
    return render_template("demo/message.html", message=found)
