"""English pages say what they mean: the audit log names 「Round 3」 and a catalogue by its
title, no full-width 「：」 between English words, and the scenes (場面) in English
(docs/language.md). The Japanese pages are unchanged."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import g
from flask_babel import refresh

from app.extensions import db
from app.i18n import LANG_COOKIE
from app.models import Catalogue, Section
from app.services.governance import audit
from tests import factories
from tests.results_world import build_world


def _english(client) -> None:
    """English from the next request on (``app_ctx`` keeps ``g``, where Flask-Babel keeps the
    language it found)."""
    client.set_cookie(LANG_COOKIE, "en")
    refresh()


def _text(html: str) -> str:
    """The page's text, tags removed, spaces squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_audit_log_names_a_round_and_a_catalogue(app_ctx, client, sign_in):
    """In the rows' sentences a round no longer on file is 「Round 7」 (not 「Rounds 7」) and a
    catalogue is its title (not 「Standard t-2025」), or its kind and key once it is gone;
    Japanese: 「調査 7」 and the title."""
    world = build_world()
    title = db.session.scalars(sa.select(Catalogue.title).where(Catalogue.key == "t-2025")).one()
    audit.record("round.create", actor=None, target_type="round", target_id=7)
    audit.record("catalogue.publish", actor=None, target_type="catalogue", target_id="t-2025")
    audit.record("catalogue.publish", actor=None, target_type="catalogue", target_id="gone-1")
    db.session.commit()
    sign_in(world.admin)
    japanese = _text(client.get("/admin/audit").get_data(as_text=True))
    assert "調査 7 を作成しました" in japanese and f"が {title} を公開しました" in japanese
    _english(client)
    english = _text(client.get("/admin/audit").get_data(as_text=True))
    assert "Round 7" in english and "Rounds 7" not in english
    assert f"An admin command published {title} (" in english
    assert "Standard t-2025" not in english
    assert "Catalogue gone-1" in english  # a catalogue no longer there: its key


def test_english_pages_put_no_full_width_colon_between_words(app_ctx, client, sign_in):
    """The improvement actions (「Standard 1: …」) and the city page's list of wards'
    rounds (「高津区: …」) use an English colon; the Japanese pages keep 「：」."""
    world = build_world()
    kumin = db.session.scalars(sa.select(Section.id).where(Section.name == "区民課")).one()
    sign_in(world.takatsu_committee)
    done = client.post(
        f"/results/rounds/{world.previous_round_id}/actions",
        data={"standard": "std-1", "action": "朝礼で確認する", "owner": f"{kumin}:{world.staff}",
              "due": "2025-03-31"},
    )
    assert done.status_code == 302
    url = f"/results/rounds/{world.previous_round_id}/actions"
    japanese = client.get(url).get_data(as_text=True)
    assert "<h3>基準1：朝礼で確認する</h3>" in japanese and "令和7年3月31日" in japanese
    _english(client)
    actions = client.get(url).get_data(as_text=True)
    assert "<h3>Standard 1: 朝礼で確認する</h3>" in actions and "31 March 2025" in actions
    assert "：" not in actions.split('id="actions-heading"')[1].split("</ul>")[0]
    for name in ("_login_user", "kijun_roles", "can_read_results", "can_manage_rounds"):
        g.pop(name, None)
    sign_in(world.city_committee)
    city = client.get("/results/city?year=2025").get_data(as_text=True)
    assert "<li>高津区: <a " in city and "高津区：" not in city


def test_scenes_are_english_on_english_pages(app_ctx, client, sign_in):
    """The checklist's scene headings and the catalogue page's scene column: 「Scene:
    Responding」 in English, 「場面：応対」 in Japanese (the stored scene is 応対)."""
    from app.models import Role, utcnow
    from app.wareki import fiscal_year_of, tokyo

    year = fiscal_year_of(tokyo(utcnow()))
    section = factories.section("総務課")
    person = factories.person(section=section, role=Role.STAFF, fiscal_year=year)
    catalogue = factories.catalogue("scenes", fiscal_year=year)
    round_ = factories.round_(catalogue)
    db.session.commit()
    sign_in(person)
    checklist = f"/rounds/{round_.id}/checklist"
    assert "場面：応対" in client.get(checklist).get_data(as_text=True)
    _english(client)
    html = client.get(checklist).get_data(as_text=True)
    assert "Scene: Responding" in html and "Scene: 応対" not in html
    page = _text(client.get("/catalogues/scenes").get_data(as_text=True))
    assert "Responding" in page and "応対" not in page
