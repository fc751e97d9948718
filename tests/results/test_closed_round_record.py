"""A closed round is a record, not a view (docs/results.md): its organisation is written with
its counts at the close (``round_section``), so next April's roster, and any later change to
the sections, departments and their order, changes no byte of anything published about it.

The world is tests/results_world.py; its reorganisation moves 総務課 (4 people, hidden) into
区民サービス部, which is the differencing attack of issue 29: 区民サービス部 read after the move
minus the same read before it would be 総務課's counts, its single chief's answers included.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Department, Round, RoundSection, Section
from app.services.results.compliance import CUBE_CACHE, round_results
from app.services.results.tally import count_round, discard_counts
from tests import factories
from tests.results_world import World, build_world, everything_fetched, reorganise_next_year


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def test_a_reorganisation_changes_no_byte_of_a_closed_round(app, client, sign_in, world):
    """Every page, file and API reply of the closed rounds (this year's and last year's beside
    it), saved before next year's roster moves, renames and reorders sections and departments,
    is byte for byte the same after it, from the kept results and from fresh ones."""
    with app.app_context():
        before = everything_fetched(client, sign_in, world)
        reorganise_next_year()
        db.session.commit()
        soumu = db.session.get_one(Section, world.soumu_section_id)
        assert soumu.department is not None and soumu.department.name == "区民サービス部"
        assert everything_fetched(client, sign_in, world) == before
        app.extensions[CUBE_CACHE].clear()
        assert everything_fetched(client, sign_in, world) == before


def test_the_close_writes_the_organisation_of_the_moment(app_ctx, world):
    """``count_round`` writes each section of the round's wards with its department and ward
    as they are at the close; a reopening discards them with the counts, and the next close
    writes the organisation of that moment."""
    round_results(world.round_id)  # counts it
    round_ = db.session.get_one(Round, world.round_id)
    kept = {
        r.section_id: (r.section_name, r.department_name, r.ward_name)
        for r in db.session.scalars(
            sa.select(RoundSection).where(RoundSection.round_id == world.round_id)
        )
    }
    assert kept[world.soumu_section_id] == ("総務課", "まちづくり推進部", "高津区")
    assert kept[world.miyamae_section_id] == ("宮前区民課", "区民サービス部", "宮前区")
    assert len(kept) == 4
    counted_at = round_.counted_at
    discard_counts(round_)
    assert not db.session.scalars(
        sa.select(RoundSection).where(RoundSection.round_id == world.round_id)
    ).all()
    soumu = db.session.get_one(Section, world.soumu_section_id)
    soumu.name = "総務企画課"
    soumu.department = db.session.scalars(
        sa.select(Department).where(Department.name == "区民サービス部")
    ).first()
    assert counted_at is not None and count_round(world.round_id, counted_at)
    again = db.session.get(RoundSection, (world.round_id, world.soumu_section_id))
    assert again is not None
    assert (again.section_name, again.department_name) == ("総務企画課", "区民サービス部")


def test_a_round_still_open_groups_by_the_organisation_of_today(app_ctx, world):
    """A round not counted yet keeps nothing: its response rates follow the sections as they
    are now (it publishes no compliance figure to compare)."""
    catalogue = factories.catalogue("open-2026", fiscal_year=2026, standards=1)
    section = db.session.get_one(Section, world.soumu_section_id)
    round_ = factories.round_(catalogue, wards=[section.ward])
    section.name = "総務企画課"
    groups = {g.key: g.name for g in round_results(round_.id).groups}
    assert groups[f"section:{world.soumu_section_id}"] == "総務企画課"
