"""The attack on improvement actions: an action names its owner, and its owner's section may be
one person. If any page showed "the rate of the owner's section" beside the action, it would be
that person's answers. Nothing does: beside an action only the ward's cells appear, as the
results hide them (tests/results_world.py, plus 広報担当: one staff member answering できていない
to std-1 and std-2 in FY2025, so that section's rate would be 0.0 for both)."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import Role, Round
from app.services.goals.annual_report import annual_report
from app.services.results.compliance import final_results
from reports.annual import annual_html
from tests import factories
from tests.results.action_support import record
from tests.results_world import build_world

# The one person's rate, as a number on its own (not the end of 100.0 or 80.0).
ALONE = re.compile(r"(?<![0-9.])0\.0(?![0-9])")


def _visible_text(html: str) -> str:
    """The page's words and numbers: without tags, and without scripts (the charts' JSON,
    built from the same hidden cells, holds Plotly's template and its 0.0 colour stops)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<script\b.*?</script>", " ", html, flags=re.S))


def test_an_action_owned_by_a_one_person_section_reveals_no_answers(app_ctx, client, sign_in):
    """Actions on the FY2024 and FY2025 rounds owned by 広報担当's only member: the round
    pages, the actions pages, the list, its xlsx, the action's own pages and both annual
    reports show the ward's cells beside the action (68.8 and 71.4 with that person counted
    in), and the section's 0.0 nowhere."""
    world = build_world()
    alone_section = factories.section("広報担当")
    alone = factories.person(section=alone_section, fiscal_year=2025, name="広報 一人")
    round_ = db.session.get_one(Round, world.round_id)
    factories.response(round_, alone, {"std-1": "no", "std-2": "no"}, section=alone_section)
    db.session.commit()
    earlier = record(world, alone.id, section="広報担当", text="広報の手順を見直す")
    later = record(world, alone.id, section="広報担当", text="チラシを点検する",
                   round_id=world.round_id, due=date(2027, 3, 31))

    results = final_results(world.round_id, [world.takatsu_ward_id])
    section_key = f"section:{alone_section.id}"
    section_row = {r.standard.key: r for r in results.table(section_key)}["std-1"]
    assert section_row.current[Role.STAFF].state == "hidden"  # the usual rule
    ward = {r.standard.key: r for r in results.table(f"ward:{world.takatsu_ward_id}")}
    assert (ward["std-1"].current[Role.STAFF].text, ward["std-2"].current[Role.STAFF].text) == (
        "68.8", "71.4")

    sign_in(world.takatsu_committee)
    pages = {
        url: client.get(url)
        for url in (
            f"/results/rounds/{world.round_id}",
            f"/results/rounds/{world.round_id}?group={section_key}",
            f"/results/rounds/{world.previous_round_id}/actions",
            f"/results/rounds/{world.round_id}/actions",
            "/results/actions?status=all",
            f"/results/actions/{earlier.id}/outcome",
            f"/results/actions/{later.id}/edit",
            f"/annual-report/{world.takatsu_ward_id}/2025",
        )
    }
    for url, page in pages.items():
        assert page.status_code == 200, url
        assert not ALONE.search(_visible_text(page.get_data(as_text=True))), url
    round_page = pages[f"/results/rounds/{world.round_id}"].get_data(as_text=True)
    row = round_page.split(f'id="effect-{earlier.id}"')[1].split("</tr>")[0]
    assert "広報 一人" in row  # the owner is named ...
    cells = [c.split(">", 1)[1].split("<")[0] for c in row.split('class="num')[1:]]
    assert cells[:2] == ["80.0", "68.8"]  # ... beside the ward's cells, never the section's
    assert not re.search(r"\d+\.\d", _visible_text(pages["/results/actions?status=all"]
                                                   .get_data(as_text=True)))
    sheet = load_workbook(BytesIO(client.get("/results/actions.xlsx?status=all").data)).active
    assert sheet is not None
    texts = [str(v) for row_ in sheet.iter_rows(values_only=True) for v in row_ if v is not None]
    assert "広報 一人（" + alone.employee_id + "）" in texts
    assert not any(re.search(r"\d+\.\d", t) for t in texts)  # no rate at all
    for year in (2024, 2025):
        html = annual_html(annual_report(world.takatsu_ward_id, year))
        assert "広報" in html and not ALONE.search(_visible_text(html)), year
        assert "広報 一人" not in html  # the published report names sections, not people
    entry = annual_report(world.takatsu_ward_id, 2025).previous_actions[0]
    assert entry.after == ("68.8", "＊")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Round)) == 3
