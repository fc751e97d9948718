"""The committee's pages: the rounds it may read, a round's compliance table and charts, and
the breakdown by ward, department or section (issue 5). Also serves plotly.js itself: the
intranet has no internet, so the charts never load anything from a CDN."""

from flask import Blueprint

bp = Blueprint("results", __name__, url_prefix="/results")
vendor_bp = Blueprint("vendor", __name__, url_prefix="/vendor")
