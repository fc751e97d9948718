"""The compliance table as a printable HTML page and as PDF (WeasyPrint).

The HTML is self-contained (its styles inline, no outside resources), so that it prints the
same from a browser and through WeasyPrint. The PDF uses the Japanese fonts installed from
Debian's fonts-noto-cjk package; page numbers and the group and year are in the page margins.
"""

from __future__ import annotations

from importlib import resources
from typing import IO

from jinja2 import Environment, FunctionLoader, select_autoescape

from reports.table import ROLE_LABELS, ComplianceTable


def _template(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


# The loader lets a template include another (``_compliance_table.html``).
_env = Environment(
    loader=FunctionLoader(_template),
    autoescape=select_autoescape(default=True),
    keep_trailing_newline=True,
)


def compliance_html(table: ComplianceTable) -> str:
    """The print view of the table, one HTML document."""
    template = _env.from_string(_template("compliance.html"))
    return template.render(table=table, roles=ROLE_LABELS)


def html_to_pdf(html: str, out: IO[bytes] | None = None) -> bytes | None:
    """Render an HTML document that needs no outside resources to PDF."""
    from weasyprint import HTML  # imported here: it loads Pango, which only PDF needs

    document = HTML(string=html, base_url=None)
    if out is not None:
        document.write_pdf(out)
        return None
    return document.write_pdf()


def compliance_pdf(table: ComplianceTable, out: IO[bytes] | None = None) -> bytes | None:
    """The print view of the table as PDF."""
    return html_to_pdf(compliance_html(table), out)
