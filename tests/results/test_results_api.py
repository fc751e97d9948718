"""GET /api/v1/rounds/<id>/compliance: the committee's figures as JSON (tests/results_world.py)."""

from __future__ import annotations

import pytest
from flask import Flask

from app.api.openapi import OPERATIONS, Answer
from app.api.schemas import Compliance
from tests.results_world import World, build_world

URL = "/api/v1/rounds/{}/compliance"


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def test_ward_committee_gets_the_hand_computed_figures(client, sign_in, world):
    """高津区's reader: counts and rates per role, last year's rates through the renumbered
    standard, response rates, and the settings."""
    sign_in(world.takatsu_committee)
    response = client.get(URL.format(world.round_id))
    assert response.status_code == 200
    body = response.get_json()
    assert body["round"]["fiscal_year_label"] == "令和7年度"
    assert [w["name"] for w in body["round"]["wards"]] == ["高津区", "宮前区"]
    assert body["previous_round"]["title"] == "令和6年度 点検"
    assert body["group"] == {"key": f"ward:{world.takatsu_ward_id}", "level": "ward",
                             "name": "高津区"}
    assert (body["min_group_size"], body["rounding"]) == (5, "half_up")
    assert body["response_rates"]["staff"] == {
        "expected": 16, "submitted": 15, "rate": 93.8, "state": "shown"
    }
    assert body["response_rates"]["chief"] == {
        "expected": None, "submitted": None, "rate": None, "state": "hidden"
    }
    std1, std2, sec24 = body["standards"]
    assert std1["roles"]["staff"] == {
        "complies": 11, "not_complies": 4, "not_applicable": 0, "rate": 73.3, "state": "shown"
    }
    assert std1["previous"] == {"staff": {"rate": 80.0, "state": "shown", "imported": False},
                                "chief": {"rate": None, "state": "empty", "imported": False}}
    assert (std2["number"], std2["previous_number"]) == (2, 5)
    assert std2["roles"]["staff"]["rate"] == 76.9
    assert std2["roles"]["staff"]["not_applicable"] == 2
    assert std2["previous"]["staff"]["rate"] == 100.0
    assert sec24["audience"] == "section"
    assert sec24["roles"]["chief"]["rate"] == 66.7
    assert sec24["roles"]["staff"]["state"] == "empty"


def test_hidden_cells_carry_no_counts(client, sign_in, world):
    """A hidden cell (総務課, 4 people) has null counts and rate: nothing to work it out from."""
    sign_in(world.takatsu_committee)
    body = client.get(URL.format(world.round_id) + f"?group=section:{world.soumu_section_id}")
    for standard in body.get_json()["standards"][:2]:
        for role in ("staff", "chief"):
            assert standard["roles"][role] == {
                "complies": None, "not_complies": None, "not_applicable": None,
                "rate": None, "state": "hidden",
            }


def test_other_wards_are_404_and_others_are_refused(client, sign_in, world):
    """A ward reader gets 404 JSON for another ward's round or group; staff 403; anonymous 401."""
    sign_in(world.takatsu_committee)
    other = client.get(URL.format(world.miyamae_round_id))
    assert other.status_code == 404
    assert other.get_json()["error"] == "not_found"
    group = client.get(URL.format(world.round_id) + f"?group=section:{world.miyamae_section_id}")
    assert group.status_code == 404
    assert client.get(URL.format(9999)).status_code == 404
    sign_in(world.staff)
    assert client.get(URL.format(world.round_id)).status_code == 403
    with client.session_transaction() as session:
        session.clear()
    assert client.get(URL.format(world.round_id)).status_code == 401


def test_city_reader_and_admin_read_the_whole_round(client, sign_in, world):
    """A city-wide reader gets the two-ward whole, which last year's 高津区-only round cannot be
    compared with (previous null), and 宮前区's own round."""
    sign_in(world.admin)
    body = client.get(URL.format(world.round_id)).get_json()
    assert body["group"]["key"] == "all"
    assert body["previous_round"] is None
    assert all(s["previous"] is None for s in body["standards"])
    assert body["standards"][0]["roles"]["staff"]["rate"] == 80.0
    assert client.get(URL.format(world.miyamae_round_id)).status_code == 200


def test_the_reply_is_the_model_the_document_declares(client, sign_in, world):
    """The compliance answer (a hidden group included) validates against the model declared
    for its 200, and is exactly that model's dump: nothing undocumented is added."""
    sign_in(world.takatsu_committee)
    declared = OPERATIONS["api.compliance"].answers[200]
    assert isinstance(declared, Answer) and declared.model is Compliance
    for query in ("", f"?group=section:{world.soumu_section_id}"):
        body = client.get(URL.format(world.round_id) + query).get_json()
        assert Compliance.model_validate(body).model_dump(mode="json") == body
