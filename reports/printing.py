"""The compliance table as a printable HTML page and as PDF (WeasyPrint).

The HTML is self-contained (its styles inline, no outside resources), so that it prints the
same from a browser and through WeasyPrint. The PDF draws Japanese with the fonts of the
machine (Noto Sans/Serif CJK JP from Debian's fonts-noto-cjk) when they are there, and
otherwise with Noto Sans JP and Noto Serif JP from the ``pylopdf-fonts-jp`` wheel, a
dependency of the project: so ``pip install`` alone gives Japanese PDFs on any machine.
A PDF is never written with a character its fonts cannot draw (``PdfFontError``).
"""

from __future__ import annotations

from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import IO, Any, overload

from jinja2 import Environment, FunctionLoader, select_autoescape

from reports.table import ROLE_LABELS, ComplianceTable

# The font families the templates name after the machine's own CJK fonts (docs/exports.md).
BUNDLED_SANS = "Kijun Noto Sans JP"
BUNDLED_SERIF = "Kijun Noto Serif JP"
FONT_PACKAGE = "pylopdf-fonts-jp"
FONT_FIX = "pip install -c requirements/constraints.txt -e ."


class PdfFontError(RuntimeError):
    """The PDF would show boxes instead of Japanese: nothing is written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def bundled_japanese_fonts() -> dict[str, Path]:
    """The font files of the ``pylopdf-fonts-jp`` wheel by the family name the templates use.

    Checked before any rendering: raises ``PdfFontError`` naming the fix when the package or
    one of its files is missing."""
    try:
        import pylopdf_fonts_jp
    except ImportError:
        fonts: dict[str, Path] = {}
    else:
        fonts = {
            BUNDLED_SANS: Path(pylopdf_fonts_jp.sans_path()),
            BUNDLED_SERIF: Path(pylopdf_fonts_jp.serif_path()),
        }
    if not fonts or not all(path.is_file() for path in fonts.values()):
        raise PdfFontError(
            f"PDF 用の日本語フォント（Python パッケージ {FONT_PACKAGE}）が見つかりません。"
            f"「{FONT_FIX}」で入れ直してから、もう一度書き出してください"
            "（Debian/Ubuntu では apt-get install fonts-noto-cjk でも足ります）。"
            f" / The Japanese font for PDFs (the Python package {FONT_PACKAGE}) is missing: "
            f"run `{FONT_FIX}` and export again."
        )
    return fonts


def _font_faces(fonts: dict[str, Path]) -> str:
    return "\n".join(
        f'@font-face {{ font-family: "{family}"; src: url("{path.as_uri()}"); }}'
        for family, path in fonts.items()
    )


def _missing_glyphs(document: Any) -> list[str]:
    """The characters WeasyPrint drew as .notdef (a box) in the written document."""
    missing: set[int] = set()
    for font in document.fonts.values():
        missing.update(font.missing)
    return [chr(codepoint) for codepoint in sorted(missing)]


@overload
def html_to_pdf(html: str, out: None = None) -> bytes: ...
@overload
def html_to_pdf(html: str, out: IO[bytes]) -> None: ...
def html_to_pdf(html: str, out: IO[bytes] | None = None) -> bytes | None:
    """Render an HTML document that needs no outside resources to PDF.

    Raises ``PdfFontError`` (and writes nothing to ``out``) when the Japanese font is missing
    or when any character came out as a box."""
    # imported here: WeasyPrint loads Pango, which only PDF needs
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    faces = CSS(string=_font_faces(bundled_japanese_fonts()), font_config=font_config)
    document = HTML(string=html, base_url=None).render(
        stylesheets=[faces], font_config=font_config
    )
    buffer = BytesIO()
    document.write_pdf(buffer)
    boxes = _missing_glyphs(document)
    if boxes:
        shown = "".join(boxes[:10])
        raise PdfFontError(
            f"PDF のフォントにない文字があるため書き出しませんでした（{shown}）。"
            f"「{FONT_FIX}」で日本語フォントを入れ直してください。"
            f" / The PDF was not written: its fonts cannot draw {shown!r}; run `{FONT_FIX}`."
        )
    if out is not None:
        out.write(buffer.getvalue())
        return None
    return buffer.getvalue()


@overload
def compliance_pdf(table: ComplianceTable, out: None = None) -> bytes: ...
@overload
def compliance_pdf(table: ComplianceTable, out: IO[bytes]) -> None: ...
def compliance_pdf(table: ComplianceTable, out: IO[bytes] | None = None) -> bytes | None:
    """The print view of the table as PDF."""
    return html_to_pdf(compliance_html(table), out)
