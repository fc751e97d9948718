"""Each repeated piece of markup is written once, in its macro (docs/architecture.md): a page
that writes it by hand again fails this test.

- the pager of a paged list (前へ, "2 / 5 ページ", 次へ): ``pager`` in app/templates/_lists.html;
- the table shell (the scrolling region, the ``<table>`` and its caption): ``table_shell`` in
  app/templates/_lists.html;
- the checklist's parts, scenes and items: ``checklist_parts`` in
  app/templates/checklist/_macros.html, which the checklist page and the catalogue's preview
  both call, so that the preview *is* the checklist (the last test renders both).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Catalogue, Grant, GrantRole, Role
from app.services.catalogue.catalogues import load_catalogues
from tests import factories
from tests.conftest import SignIn

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
LISTS = "_lists.html"
# Tables written by hand without the shell: short tables outside the results' and the admin's
# lists, shown without a scrolling region. A new table goes through ``table_shell``.
BARE_TABLES = {
    "annual/index.html": "the reports by ward and year",
    "goals/index.html": "the goal years by ward",
    "goals/year.html": "the sections' and the teams' goal counts",
    "checklist/section.html": "the chief's members and their status",
}

SHAPES: dict[str, tuple[frozenset[str], re.Pattern[str]]] = {
    "pager": (
        frozenset({LISTS}),
        re.compile(r'class="pager"|rel="(prev|next)"|\bhas_(prev|next)\b|\b(prev|next)_num\b'
                   r"|前へ|次へ|%\(pages\)s"),
    ),
    "table shell": (
        frozenset({LISTS}),
        re.compile(r'table-scroll|role="region"|<caption id=|\bscroll_region\b'),
    ),
    "hand-written table": (frozenset({LISTS, *BARE_TABLES}), re.compile(r"<table\b")),
    "checklist item loop": (
        frozenset({"checklist/_macros.html"}),
        re.compile(r'item_html\[|class="part part-'),
    ),
}


def copies(where: str, text: str) -> list[str]:
    """``template:line shape`` for each line of ``text`` (the template ``where``, relative to
    app/templates) that writes a macro's markup outside its macro's file."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for shape, (homes, pattern) in SHAPES.items():
            if where not in homes and pattern.search(line):
                found.append(f"{where}:{number} {shape}: {line.strip()}")
    return found


def test_no_template_writes_a_pager_or_a_table_shell_by_hand() -> None:
    """The pager, the table shell and the checklist's item loop are written only in their
    macros; every other template calls them."""
    found = [
        hit
        for path in sorted(TEMPLATES.rglob("*.html"))
        for hit in copies(path.relative_to(TEMPLATES).as_posix(), path.read_text("utf-8"))
    ]
    assert found == []


def test_the_check_catches_planted_copies() -> None:
    """The hand-written pager, table shell, table and item loop the pages had before their
    macros are each caught in a page; the macros' own files are not."""
    planted = "\n".join(
        [
            '<nav aria-label="{{ _(\'ページ\') }}" class="pager">',
            "  {% if page.has_prev %}<a href=\"{{ url_for('admin.ledger', page=page.prev_num)"
            " }}\">{{ _('前へ') }}</a>{% endif %}",
            '<div class="table-scroll" tabindex="0" role="region" aria-labelledby="x-caption">',
            "{% call scroll_region('x-caption') %}",
            '<table class="table">',
            '  <caption id="x-caption">{{ _(\'一覧\') }}</caption>',
            '  <section class="part part-{{ part.name }}" aria-labelledby="part-1-title">',
            "        {{ item_html[item.key] }}",
        ]
    )
    hits = copies("admin/elsewhere.html", planted)
    assert [hit.split(" ", 1)[1].split(":")[0] for hit in hits] == [
        "pager", "pager", "table shell", "table shell", "hand-written table", "table shell",
        "checklist item loop", "checklist item loop",
    ]  # fmt: skip
    assert copies("checklist/section.html", '<table class="table members">') == []
    pager, shell = planted.splitlines()[:2], planted.splitlines()[2:6]
    assert copies(LISTS, "\n".join(pager + shell)) == []
    assert copies("checklist/_macros.html", "\n".join(planted.splitlines()[6:])) == []


def _parts(html: str, shift: int) -> str:
    """The checklist's parts in a page, their headings raised by ``shift`` levels."""
    sections = re.findall(r'<section class="part .*?</section>', html, flags=re.S)
    return re.sub(
        r"<(/?)h(\d)", lambda m: f"<{m[1]}h{int(m[2]) - shift}", "\n".join(sections)
    )


def test_the_preview_shows_the_checklists_own_markup(
    app: Flask, client: FlaskClient, sign_in: SignIn
) -> None:
    """For the same standards, the admin's preview as a chief of 庁舎管理担当課 holds the very
    parts, scene headings and item fieldsets (disabled) that the checklist page shows that
    chief before the round opens; only its headings sit one level lower."""
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]))
        takatsu = factories.ward("高津区")
        building = factories.section("総務課", ward_name="高津区", kinds=("庁舎管理担当課",))
        chief = factories.person(section=building, role=Role.CHIEF, fiscal_year=2025)
        admin = factories.person(employee_id="900004")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward=takatsu))
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")).one()
        now = datetime.now(UTC)
        round_ = factories.round_(catalogue, wards=[takatsu], fiscal_year=2025,
                                  opens_at=now + timedelta(days=1),
                                  closes_at=now + timedelta(days=8))
        db.session.commit()
        round_id, admin_id, chief_id = round_.id, admin.id, chief.id
    sign_in(admin_id)
    preview = client.get("/admin/catalogues/takatsu-2025/preview?as=chief:庁舎管理担当課")
    sign_in(chief_id)
    page = client.get(f"/rounds/{round_id}/checklist")
    assert preview.status_code == page.status_code == 200
    shown, previewed = _parts(page.get_data(as_text=True), 0), _parts(
        preview.get_data(as_text=True), 1)
    fieldsets = re.findall(r'<fieldset class="radio-group" id="item-', previewed)
    assert len(fieldsets) >= 30
    assert "part-section" in previewed and "課としての基準（総務課）" in previewed
    assert previewed.count(" disabled ") == 4 * len(fieldsets)  # 3 answers and the comment
    assert previewed == shown
