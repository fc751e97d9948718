"""The person's own pages: my rounds, the checklist, and the chief's view of the section."""

from flask import Blueprint

bp = Blueprint("checklist", __name__)
