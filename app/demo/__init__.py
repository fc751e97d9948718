"""The demo's own pages: its mailbox (``/demo/mail``), on only when ``DEMO_MAILBOX`` is
(``flask demo serve``); a 404 everywhere else."""

from flask import Blueprint

bp = Blueprint("demo", __name__, url_prefix="/demo")
