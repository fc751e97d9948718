"""PDFs carry Japanese text on a machine with no Japanese font of its own (the font comes from
the pylopdf-fonts-jp wheel), and an export without a usable font fails with a message instead
of writing boxes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.extensions import db
from reports.printing import PdfFontError, html_to_pdf
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
PDFFONTS = shutil.which("pdffonts")
PDFTOTEXT = shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(
    PDFFONTS is None or PDFTOTEXT is None, reason="pdffonts/pdftotext (poppler-utils) missing"
)


@pytest.fixture
def no_system_fonts(tmp_path: Path) -> Path:
    """A fontconfig configuration that knows no font at all: a machine without fonts-noto-cjk
    (nor any other font)."""
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<fontconfig>'
        f"<dir>{empty}</dir><cachedir>{tmp_path / 'fc-cache'}</cachedir>"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


@pytest.fixture
def a_round(app, database_url) -> int:
    """A closed round with answers, committed, for a `flask` command in another process."""
    from datetime import UTC, datetime, timedelta

    with app.app_context():
        ward = factories.ward()
        section = factories.section("総務課")
        now = datetime.now(UTC)
        round_ = factories.round_(
            factories.catalogue(), wards=[ward], opens_at=now - timedelta(days=3),
            closes_at=now - timedelta(days=1),
        )
        for _ in range(6):
            person = factories.person(section=section)
            factories.response(round_, person, {"std-1": "yes", "std-2": "no"}, section=section)
        db.session.commit()
        return round_.id


def _export(database_url: str, round_id: int, out: Path, fontconfig: Path, *pythonpath: Path):
    env = {
        **os.environ,
        "FLASK_SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "FONTCONFIG_FILE": str(fontconfig),
        "PYTHONPATH": os.pathsep.join(str(p) for p in (*pythonpath, ROOT)),
    }
    args = ["report", "compliance", "--round", str(round_id), "--format", "pdf"]
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args, "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@needs_poppler
def test_a_pdf_export_has_japanese_text_with_no_japanese_font_on_the_machine(
    a_round, database_url, no_system_fonts, tmp_path
):
    """With no font installed on the machine, `report compliance --format pdf` embeds the
    bundled Noto Sans JP and its text reads back as Japanese."""
    out = tmp_path / "table.pdf"
    done = _export(database_url, a_round, out, no_system_fonts)
    assert done.returncode == 0, done.stderr
    assert PDFFONTS is not None and PDFTOTEXT is not None  # else skipped
    fonts = subprocess.run([PDFFONTS, str(out)], capture_output=True, text=True, check=True)
    assert "Kijun-Noto-Sans-JP" in fonts.stdout
    assert "CJK" not in fonts.stdout  # not the machine's fonts-noto-cjk
    text = subprocess.run([PDFTOTEXT, str(out), "-"], capture_output=True, text=True, check=True)
    for words in ("遵守率", "職員", "所属長", "基準1の文"):
        assert words in text.stdout


def test_a_pdf_export_without_the_font_fails_with_the_fix_and_writes_nothing(
    a_round, database_url, no_system_fonts, tmp_path
):
    """With the font package unusable (its files missing) and no font on the machine, the
    export exits non-zero, names the package and the install command, and leaves no file."""
    broken = tmp_path / "broken-package"
    (broken / "pylopdf_fonts_jp").mkdir(parents=True)
    (broken / "pylopdf_fonts_jp" / "__init__.py").write_text(
        "from pathlib import Path\n"
        "def sans_path(): return Path('/nonexistent/NotoSansJP-Regular.otf')\n"
        "def serif_path(): return Path('/nonexistent/NotoSerifJP-Regular.otf')\n",
        encoding="utf-8",
    )
    out = tmp_path / "table.pdf"
    done = _export(database_url, a_round, out, no_system_fonts, broken)
    assert done.returncode == 1
    assert "pylopdf-fonts-jp" in done.stderr
    assert "pip install -c requirements/constraints.txt -e ." in done.stderr
    assert not out.exists()


def test_a_character_no_font_can_draw_stops_the_pdf():
    """A character that comes out as a box (.notdef) stops the PDF with PdfFontError."""
    with pytest.raises(PdfFontError) as raised:
        html_to_pdf('<html lang="ja"><body><p>遵守率 \U00013000</p></body></html>')
    assert "\U00013000" in raised.value.message


def test_the_annual_report_pdf_answers_503_with_a_message_without_the_font(
    app, client, sign_in, monkeypatch
):
    """When the PDF cannot have its Japanese font, the annual report's PDF link answers 503
    with a plain message instead of a PDF of boxes (or a 500)."""
    from app.annual import routes
    from app.models import Grant, GrantRole

    def no_font(_name, _report):
        raise PdfFontError("no font")

    monkeypatch.setattr(routes, "render", no_font)  # the PDF's subprocess (app/render_worker)
    with app.app_context():
        ward = factories.ward()
        committee = factories.person(section=factories.section("総務課"))
        committee.grants.append(Grant(role=GrantRole.COMMITTEE))
        db.session.commit()
        sign_in(committee)
        ward_id = ward.id
    response = client.get(f"/annual-report/{ward_id}/2025/report.pdf")
    assert response.status_code == 503
    assert "日本語フォントがありません" in response.get_data(as_text=True)


def test_a_results_pdf_that_cannot_be_drawn_answers_503_with_a_message(app, client, sign_in):
    """A round whose title has a character no font draws: its PDF download answers 503 with
    the plain message (the real renderer's check, not a 500 or a PDF of boxes)."""
    from datetime import UTC, datetime, timedelta

    from app.models import Grant, GrantRole

    with app.app_context():
        catalogue = factories.catalogue("glyph", fiscal_year=2025, standards=1)
        now = datetime.now(UTC)
        round_ = factories.round_(
            catalogue, title="点検 \U00013000", opens_at=now - timedelta(days=3),
            closes_at=now - timedelta(days=1),
        )
        committee = factories.person()
        committee.grants.append(Grant(role=GrantRole.COMMITTEE))
        db.session.commit()
        round_id, committee_id = round_.id, committee.id
    sign_in(committee_id)
    response = client.get(f"/results/rounds/{round_id}/export/pdf")
    assert response.status_code == 503
    assert "日本語フォントがありません" in response.get_data(as_text=True)
