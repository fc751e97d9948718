"""The administrator's pages: create and edit survey rounds, and read each round's send
ledger (docs/scheduler.md)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
