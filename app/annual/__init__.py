"""The ward's annual report (実施状況報告書) as HTML, PDF and Word (docs/annual-report.md)."""

from flask import Blueprint

bp = Blueprint("annual", __name__, url_prefix="/annual-report")
