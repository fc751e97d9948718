"""A counted round's results are built once per process (compliance/cube.py ``build_cube``)
and never served out of date: a recount, a renamed or moved section, a changed setting or
another language each build them afresh; readers still see only their own wards."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from app.extensions import db
from app.i18n import LANG_COOKIE
from app.models import Role, Round, Section
from app.services.results.compliance import ALL, CUBE_CACHE, round_results
from app.services.results.compliance import cube as cube_module
from app.services.results.tally import count_round, discard_counts
from tests import factories
from tests.results_world import World, build_world
from tests.web.test_performance import statements


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def _cell(round_id: int, group_key: str, key: str = "std-1", role: Role = Role.STAFF) -> str:
    results = round_results(round_id, with_previous=False)
    return results.table(group_key)[[s.key for s in results.standards].index(key)].current[
        role
    ].text


def test_the_counts_are_read_once_per_process(app, world):
    """The second reading of a counted round sends no query over its counts: the cube is kept."""
    with app.app_context():
        round_results(world.round_id)
        db.session.commit()
        assert app.extensions[CUBE_CACHE]
    with statements(app) as first:
        with app.app_context():
            round_results(world.round_id)
    assert not any("round_count" in sql for sql, _autocommit in first)
    app.extensions[CUBE_CACHE].clear()
    with statements(app) as cold:
        with app.app_context():
            round_results(world.round_id)
    assert any("round_count" in sql for sql, _autocommit in cold)


def test_a_recount_with_the_same_time_is_read_afresh(app, world):
    """A reopened round counted again at the very same instant (its counts discarded through
    the ORM, a new answer in between) shows the new counts, not the kept ones."""
    miyamae = f"section:{world.miyamae_section_id}"
    with app.app_context():
        assert _cell(world.round_id, miyamae) == "100.0"
        round_ = db.session.get_one(Round, world.round_id)
        counted_at = round_.counted_at
        discard_counts(round_)
        section = db.session.get_one(Section, world.miyamae_section_id)
        person = factories.person(section=section, fiscal_year=2025)
        factories.response(round_, person, {"std-1": "no", "std-2": "yes"}, section=section)
        assert count_round(world.round_id, counted_at)
        db.session.commit()
        assert db.session.get_one(Round, world.round_id).counted_at == counted_at
        assert _cell(world.round_id, miyamae) == "83.3"  # 5 of 6


def test_a_renamed_or_moved_section_changes_nothing_in_a_closed_round(app, client, sign_in, world):
    """A section renamed, then moved to another department, after the round was counted: the
    round's page still names and places it as at the close (its organisation is kept with its
    counts, tally.round_organisation), from a kept cube or a fresh one."""
    sign_in(world.city_committee)
    path = f"/results/rounds/{world.round_id}/breakdown?level=section&role=staff"

    def page() -> str:  # without the sign-out form's CSRF token (it carries a time)
        return re.sub(r'name="csrf_token"[^>]*', "", client.get(path).get_data(as_text=True))

    before = page()
    assert "宮前区民課" in before
    with app.app_context():
        parent = {g.key: g.parent_key for g in round_results(world.round_id).groups}
        section = db.session.get_one(Section, world.miyamae_section_id)
        section.name = "宮前区民サービス課"
        department = factories.section(ward_name="宮前区", department="新しい部").department
        assert department is not None
        section.department = department
        db.session.commit()
    assert page() == before
    app.extensions[CUBE_CACHE].clear()
    assert page() == before
    with app.app_context():
        groups = {g.key: g for g in round_results(world.round_id).groups}
        key = f"section:{world.miyamae_section_id}"
        assert groups[key].name == "宮前区民課"
        assert groups[key].parent_key == parent[key]
        assert not any(g.name == "新しい部" for g in groups.values())


def test_a_larger_smallest_group_hides_at_once(app, world):
    """MIN_GROUP_SIZE raised from 5 to 6 after a reading: 宮前区民課's 5 staff are hidden on the
    next one."""
    miyamae = f"section:{world.miyamae_section_id}"
    with app.app_context():
        assert _cell(world.round_id, miyamae) == "100.0"
        app.config["MIN_GROUP_SIZE"] = 6
        assert _cell(world.round_id, miyamae) == "＊"


def test_english_after_japanese_names_the_whole_round_in_english(client, sign_in, world):
    """The two-ward round's whole is 全体 on a Japanese page and All on the English page that
    follows it, from the same kept results."""
    sign_in(world.city_committee)
    path = f"/results/rounds/{world.round_id}"
    assert "全体" in client.get(path).get_data(as_text=True)
    client.set_cookie(LANG_COOKIE, "en")
    english = client.get(path).get_data(as_text=True)
    assert "全体" not in english.split("<main", 1)[1]


def test_a_ward_reader_after_the_city_reader_sees_only_their_ward(app, world):
    """The kept results hold every ward of the round; a ward's committee member reading them
    right after a city-wide one still gets only their own ward's groups."""
    with app.app_context():
        everyone = round_results(world.round_id)
        assert f"ward:{world.miyamae_ward_id}" in {g.key for g in everyone.groups}
        takatsu = round_results(world.round_id, [world.takatsu_ward_id])
        assert {g.ward_id for g in takatsu.groups if g.key != ALL} == {world.takatsu_ward_id}
        assert ALL not in {g.key for g in takatsu.groups}


def test_the_kept_results_are_bounded_least_recently_read_first_out(app, world, monkeypatch):
    """With room for two, a third round puts out the one read least recently (not the one
    kept first, when that was read again since); that one is built again when read again."""
    monkeypatch.setattr(cube_module, "CUBE_CACHE_SIZE", 2)
    reads = (world.previous_round_id, world.miyamae_round_id, world.previous_round_id,
             world.round_id)
    with app.app_context():
        for round_id in reads:
            round_results(round_id, with_previous=False)
        db.session.commit()
        kept = {key[0].id for key in app.extensions[CUBE_CACHE]}
        assert kept == {world.previous_round_id, world.round_id}
    with statements(app) as seen:
        with app.app_context():
            round_results(world.miyamae_round_id, with_previous=False)
    assert any("round_count" in sql for sql, _autocommit in seen)
