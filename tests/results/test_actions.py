"""Improvement actions: the weak standards of a closed round, an action recorded on one, the
section's chief recording what was done, and the next round showing it beside the rate before
and after (tests/results_world.py: 高津区 std-1 staff 80.0 in FY2024, 73.3 in FY2025)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import g

from app.extensions import db
from app.models import ImprovementAction, Section
from app.services.goals.annual_report import annual_report
from app.services.results.actions import weak_standards
from app.services.results.compliance import final_results
from reports.annual import annual_html
from tests import factories
from tests.results_world import build_world


def _switch(sign_in, person_id: int) -> None:
    """Sign another person in (app_ctx keeps ``g``, where Flask-Login caches the person)."""
    for name in ("_login_user", "kijun_roles", "can_read_results", "can_manage_rounds"):
        g.pop(name, None)
    sign_in(person_id)


def _kumin() -> int:
    return db.session.scalars(sa.select(Section.id).where(Section.name == "区民課")).one()


def test_weak_standards_are_below_the_threshold_fell_or_apart(app_ctx):
    """FY2024: std-1 at 80.0 is under 95; FY2025: std-1 (73.3) and std-2 (76.9) are under it
    and both fell (80.0 and 100.0 the year before)."""
    world = build_world()
    old = weak_standards(final_results(world.previous_round_id), "all")
    assert [(w.row.standard.key, w.below, w.fell) for w in old] == [("std-1", True, False)]
    new = {w.row.standard.key: w for w in weak_standards(
        final_results(world.round_id, [world.takatsu_ward_id]), f"ward:{world.takatsu_ward_id}"
    )}
    assert new["std-1"].below and new["std-1"].fell
    assert new["std-2"].below and new["std-2"].fell  # 100.0 -> 76.9


def test_an_action_shows_its_before_and_after_at_the_next_round(app_ctx, client, sign_in):
    """The committee records an action on std-1 after the FY2024 round (the FY2024 annual
    report lists it), 区民課's chief records what was done, and the FY2025 round's page shows
    both beside 80.0 → 73.3."""
    world = build_world()
    sign_in(world.takatsu_committee)
    page = client.get(f"/results/rounds/{world.previous_round_id}/actions")
    assert page.status_code == 200 and 'id="weak-std-1"' in page.get_data(as_text=True)
    done = client.post(
        f"/results/rounds/{world.previous_round_id}/actions",
        data={"standard": "std-1", "action": "朝礼で広報の手順を確認する",
              "section": _kumin(), "due": "2025-03-31"},
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    action = db.session.scalars(sa.select(ImprovementAction)).one()
    report = annual_report(world.takatsu_ward_id, 2024)
    entries = [(e.action, e.section) for e in report.actions]
    assert entries == [("朝礼で広報の手順を確認する", "区民課")]
    assert "朝礼で広報の手順を確認する" in annual_html(report)

    _switch(sign_in, world.chief)  # 区民課長 in FY2025
    recorded = client.post(f"/results/actions/{action.id}/outcome",
                           data={"outcome": "4月から毎週確認した"})
    assert recorded.status_code == 302

    _switch(sign_in, world.takatsu_committee)
    html = client.get(f"/results/rounds/{world.round_id}").get_data(as_text=True)
    row = html.split(f'id="effect-{action.id}"')[1].split("</tr>")[0]
    assert "朝礼で広報の手順を確認する" in row and "4月から毎週確認した" in row
    cells = [c.split("<")[0] for c in row.split('class="num')[1:]]
    assert [c.split(">", 1)[1] for c in cells][:2] == ["80.0", "73.3"]


def test_actions_are_refused_before_the_close_and_outside_the_ward(app_ctx, client, sign_in):
    """An open round has no weak standards page (409); a stranger cannot record an outcome
    (404); an empty action is a 400 and writes nothing."""
    world = build_world()
    catalogue = factories.catalogue("open-2025", fiscal_year=2025, standards=1)
    open_round = factories.round_(catalogue, opens_at=datetime.now(UTC) - timedelta(days=1))
    db.session.commit()
    sign_in(world.takatsu_committee)
    assert client.get(f"/results/rounds/{open_round.id}/actions").status_code == 409
    empty = client.post(
        f"/results/rounds/{world.previous_round_id}/actions",
        data={"standard": "std-1", "action": " ", "section": _kumin(), "due": "2025-03-31"},
    )
    assert empty.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImprovementAction)) == 0
    client.post(
        f"/results/rounds/{world.previous_round_id}/actions",
        data={"standard": "std-1", "action": "確認", "section": _kumin(), "due": "2025-03-31"},
    )
    action_id = db.session.scalar(sa.select(ImprovementAction.id))
    _switch(sign_in, world.staff)
    assert client.get(f"/results/actions/{action_id}/outcome").status_code in (403, 404)
