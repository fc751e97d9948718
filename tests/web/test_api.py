"""The JSON API under /api/v1: rounds, checklist read and save, errors, OpenAPI document."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import openapi_spec_validator
import pytest
import sqlalchemy as sa

from app.api import ERROR_CODES, json_error
from app.api.openapi import OPERATIONS, SHARED, openapi_document, openapi_path
from app.extensions import db
from app.models import Answer, Response, Role
from app.services.results.compliance import ResultsError, ResultsNotFinal
from tests import factories

URL = "/api/v1/rounds/{}/checklist"


@pytest.fixture
def world(app):
    """A catalogue of three own standards and one section standard, an open round and a closed
    one for 高津区, a staff member and a chief there, and someone of another ward."""
    with app.app_context():
        catalogue = factories.catalogue("api-2025", standards=3)
        factories.section_standards(catalogue, (24, ()))
        section = factories.section("区民課")
        staff = factories.person(section=section, name="区民 花子")
        chief = factories.person(section=section, role=Role.CHIEF)
        outsider = factories.person(section=factories.section(ward_name="宮前区"))
        open_round = factories.round_(catalogue, title="受付中の調査")
        past = datetime.now(UTC) - timedelta(days=30)
        closed_round = factories.round_(
            catalogue, title="終わった調査", opens_at=past, closes_at=past + timedelta(days=7)
        )
        db.session.commit()
        return {
            "staff": staff.id,
            "chief": chief.id,
            "outsider": outsider.id,
            "open": open_round.id,
            "closed": closed_round.id,
        }


def test_happy_path_list_read_save_submit(client, sign_in, world, app):
    """A staff member lists rounds, reads the checklist, saves a draft, then submits."""
    sign_in(world["staff"])
    listed = client.get("/api/v1/rounds")
    assert listed.status_code == 200
    rounds = listed.get_json()["rounds"]
    assert [r["title"] for r in rounds] == ["受付中の調査", "終わった調査"]
    first = rounds[0]
    assert set(first) == {
        "id",
        "title",
        "fiscal_year",
        "fiscal_year_label",
        "opens_at",
        "closes_at",
        "is_open",
        "status",
        "role",
        "section",
    }
    assert (first["is_open"], first["status"], first["role"], first["section"]) == (
        True,
        "not_started",
        "staff",
        "区民課",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", first["opens_at"])
    assert first["fiscal_year_label"] == "令和7年度"

    read = client.get(URL.format(world["open"]))
    assert read.status_code == 200
    body = read.get_json()
    assert body["round"]["id"] == world["open"]
    assert (body["status"], body["role"], body["answered"], body["total"]) == (
        "not_started",
        "staff",
        0,
        3,
    )
    assert body["items"][0] == {
        "key": "std-1",
        "number": 1,
        "text": "基準1の文",
        "scene": "応対",
        "part": "self",
        "answer": None,
        "comment": None,
    }

    draft = client.put(
        URL.format(world["open"]),
        json={"answers": {"std-1": "yes"}, "comments": {"std-1": " 良い "}, "submit": True},
    )
    assert draft.status_code == 200
    body = draft.get_json()
    assert (body["submitted"], body["missing"], body["status"]) == (
        False,
        ["std-2", "std-3"],
        "draft",
    )
    assert body["items"][0]["answer"] == "yes"
    assert body["items"][0]["comment"] == "良い"

    done = client.put(
        URL.format(world["open"]), json={"answers": {"std-2": "no", "std-3": "na"}, "submit": True}
    )
    body = done.get_json()
    assert (done.status_code, body["submitted"], body["missing"], body["status"]) == (
        200,
        True,
        [],
        "submitted",
    )
    assert body["answered"] == body["total"] == 3
    with app.app_context():  # committed by the request
        assert db.session.scalar(sa.select(sa.func.count(Answer.id))) == 3


def test_chief_sees_and_saves_the_section_part(client, sign_in, world):
    """A chief's checklist has the section standard in the "section" part and can submit it."""
    sign_in(world["chief"])
    body = client.get(URL.format(world["open"])).get_json()
    assert [(i["key"], i["part"]) for i in body["items"]] == [
        ("std-1", "self"),
        ("std-2", "self"),
        ("std-3", "self"),
        ("sec-24", "section"),
    ]
    answers = {i["key"]: "yes" for i in body["items"]}
    saved = client.put(URL.format(world["open"]), json={"answers": answers, "submit": True})
    assert saved.get_json()["submitted"] is True


@pytest.mark.parametrize("who", ["staff", "chief"])
def test_the_saved_checklist_in_the_reply_is_what_a_fresh_read_returns(client, sign_in, world, who):
    """The PUT reply (built from the save, without reading again) equals the next GET: kept
    answers and comments, changed ones, cleared ones, the section part and the status."""
    sign_in(world[who])
    url = URL.format(world["open"])
    first = {"answers": {"std-1": "no", "std-2": "na"}, "comments": {"std-2": "窓口なし"}}
    if who == "chief":
        first["answers"]["sec-24"] = "yes"
        first["comments"]["sec-24"] = "課で確認"
    client.put(url, json=first)
    reply = client.put(url, json={"answers": {"std-1": "yes"}, "comments": {"std-2": ""}})
    assert reply.status_code == 200
    saved = reply.get_json()
    assert saved.pop("submitted") is False
    assert saved.pop("missing") == ["std-3"]
    fresh = client.get(url).get_json()
    assert saved == fresh
    answers = {item["key"]: (item["answer"], item["comment"]) for item in fresh["items"]}
    assert answers["std-1"] == ("yes", None)
    assert answers["std-2"][0] == "na" and not answers["std-2"][1]
    if who == "chief":
        assert answers["sec-24"] == ("yes", "課で確認")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"answers": {"std-1": "maybe"}}, "answers.std-1"),
        ({"answers": {"notice-media": "yes"}}, "answers.notice-media"),
        ({"answers": {"sec-24": "yes"}}, "answers.sec-24"),
        ({"answers": {"std-1": 1}}, "answers.std-1"),
        ({"answers": ["std-1"]}, "answers"),
        ({"comments": {"std-1": "x" * 1001}, "answers": {"std-1": "yes"}}, "comments.std-1"),
        ({"submit": "yes"}, "submit"),
        ({"answer": {"std-1": "yes"}}, "answer"),
        ([1, 2], "body"),
    ],
)
def test_invalid_bodies_get_422_naming_the_field(client, sign_in, world, app, payload, field):
    """Bad keys, values or shapes get 422 with the offending field named, and nothing saved."""
    sign_in(world["staff"])
    response = client.put(URL.format(world["open"]), json=payload)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid"
    assert field in body["fields"]
    assert body["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0


def test_malformed_json_gets_422(client, sign_in, world):
    """A body that is not JSON at all, sent as application/json, gets 422 naming the body."""
    sign_in(world["staff"])
    response = client.put(
        URL.format(world["open"]), data="{not json", content_type="application/json"
    )
    assert response.status_code == 422
    assert "body" in response.get_json()["fields"]


def test_not_json_gets_415(client, sign_in, world):
    """A form-encoded body is refused with 415 as JSON."""
    sign_in(world["staff"])
    response = client.put(URL.format(world["open"]), data={"std-1": "yes"})
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"


def test_save_after_close_gets_409(client, sign_in, world, app):
    """Saving into a closed round gets 409 "closed" with the deadline, and nothing is saved."""
    sign_in(world["staff"])
    response = client.put(
        URL.format(world["closed"]), json={"answers": {"std-1": "yes"}, "submit": True}
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "closed"
    assert "締め切られました" in body["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0
    read = client.get(URL.format(world["closed"])).get_json()
    assert read["is_open"] is False and read["round"]["is_open"] is False


def test_anonymous_gets_401_json(client, world):
    """Without signing in every API view answers 401 as JSON."""
    for method, url in (
        ("GET", "/api/v1/rounds"),
        ("GET", URL.format(world["open"])),
        ("PUT", URL.format(world["open"])),
    ):
        response = client.open(url, method=method, json={})
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"


def test_round_the_person_does_not_answer_gets_404(client, sign_in, world):
    """Someone of another ward, or an unknown round id, gets 404 as JSON."""
    sign_in(world["outsider"])
    assert client.get("/api/v1/rounds").get_json() == {"rounds": []}
    for response in (
        client.get(URL.format(world["open"])),
        client.put(URL.format(world["open"]), json={"answers": {"std-1": "yes"}}),
        client.get(URL.format(987654)),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"


def test_unknown_paths_and_methods_are_json(client, sign_in, world):
    """404 and 405 under /api/ are JSON too."""
    sign_in(world["staff"])
    missing = client.get("/api/v1/nothing-here")
    assert (missing.status_code, missing.get_json()["error"]) == (404, "not_found")
    wrong = client.post(URL.format(world["open"]), json={})
    assert (wrong.status_code, wrong.get_json()["error"]) == (405, "method_not_allowed")
    assert "PUT" in wrong.headers["Allow"]


def test_put_works_with_csrf_protection_on(client, sign_in, world, app):
    """The API is exempt from the CSRF token check (JSON bodies only, SameSite=Lax cookie)."""
    app.config["WTF_CSRF_ENABLED"] = True
    sign_in(world["staff"])
    response = client.put(URL.format(world["open"]), json={"answers": {"std-1": "yes"}})
    assert response.status_code == 200


def test_openapi_document_is_valid_and_covers_every_route(client, app):
    """The served document validates as OpenAPI 3.1 and has exactly the API's routes, each with
    exactly the methods it accepts."""
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    document = served.get_json()
    assert document == openapi_document(app)
    assert document["openapi"].startswith("3.1")
    openapi_spec_validator.validate(document)

    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            methods = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
            routes.setdefault(openapi_path(rule.rule), set()).update(methods)
    assert {path: set(item) for path, item in document["paths"].items()} == routes


def test_the_document_cannot_leave_out_an_api_route(app):
    """An API route without an entry in the operations table makes the document fail to
    build, instead of serving a document that does not describe it."""
    app.add_url_rule("/api/v1/undocumented", "api.undocumented", lambda: "{}")
    with pytest.raises(LookupError, match="api.undocumented"):
        openapi_document(app)


def test_every_error_code_is_in_the_document(app):
    """The codes that the API answers (each status's usual code, the services' own codes and
    the fallback of a status without one) are the enum of the document's Error."""
    documented = set(openapi_document(app)["components"]["schemas"]["ErrorCode"]["enum"])
    assert set(ERROR_CODES.values()) | {ResultsError.code, ResultsNotFinal.code} <= documented
    with app.test_request_context():
        for status in (410, 418, 429, 503):
            assert json_error(status).get_json()["error"] in documented


def _declared_model(app, method: str, url: str, status: int):
    """The model the operations table declares for this request's answer with ``status``."""
    endpoint, _ = app.url_map.bind("localhost").match(url.split("?")[0], method)
    declared = OPERATIONS[endpoint].answers.get(status)
    if declared is None and status in (401, 403):
        declared = SHARED["Unauthorized" if status == 401 else "Forbidden"]
    assert declared is not None, f"{status} is not documented for {method} {url}"
    return (SHARED[declared] if isinstance(declared, str) else declared).model


def test_every_reply_is_the_model_its_route_declares(client, sign_in, world, app):
    """Each API answer (successes and errors, for every route) validates against the model
    that the document declares for its route and status."""
    url = URL.format(world["open"])
    sign_in(world["staff"])
    calls = [
        ("GET", "/api/v1/rounds", None, 200),
        ("GET", url, None, 200),
        ("PUT", url, {"answers": {"std-1": "yes"}, "comments": {"std-1": " 確認 "}}, 200),
        ("PUT", url, {"answers": {"std-1": "yes", "std-2": "no", "std-3": "na"},
                      "submit": True}, 200),
        ("PUT", url, {"answers": {"std-1": 1, "nope": "yes"}, "submit": "x"}, 422),
        ("PUT", URL.format(world["closed"]), {"answers": {"std-1": "yes"}}, 409),
        ("GET", URL.format(987654), None, 404),
        ("GET", f"/api/v1/rounds/{world['open']}/compliance", None, 403),
    ]
    for method, target, body, status in calls:
        response = client.open(target, method=method, json=body)
        assert response.status_code == status, (method, target, response.get_json())
        model = _declared_model(app, method, target, status)
        model.model_validate(response.get_json())
    form = client.put(url, data={"std-1": "yes"})
    assert form.status_code == 415
    _declared_model(app, "PUT", url, 415).model_validate(form.get_json())
    anonymous = app.test_client().get("/api/v1/rounds")
    assert anonymous.status_code == 401
    _declared_model(app, "GET", "/api/v1/rounds", 401).model_validate(anonymous.get_json())
