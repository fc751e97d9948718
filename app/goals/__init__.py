"""Service goals: the chiefs' goal pages and the committee's year pages (docs/goals.md)."""

from flask import Blueprint

bp = Blueprint("goals", __name__, url_prefix="/goals")
