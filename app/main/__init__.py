"""Pages everyone on the intranet may read: the home page and the standards catalogues."""

from flask import Blueprint

bp = Blueprint("main", __name__)
