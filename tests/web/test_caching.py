"""Nothing a person reads is kept in a cache (shared office PCs): every page, API reply and
download says ``Cache-Control: no-store``; the public static assets keep their caching
(app/caching.py)."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Grant, GrantRole, Person, Ward
from app.services.results.exports import FORMATS
from tests import factories
from tests.results_world import World, build_world

# Pages the brief of the finding named: each must be walked and answered 200.
NAMED = (
    "/me",
    "/rounds/{round_id}/checklist",
    "/rounds/{round_id}/receipt",
    "/api/v1/rounds/{round_id}/checklist",
    "/api/v1/rounds/{round_id}/compliance",
    "/results/rounds/{round_id}",
    "/results/rounds/{round_id}/export/csv",
    "/results/rounds/{round_id}/export/html",
    "/results/rounds/{round_id}/export/xlsx",
    "/results/rounds/{round_id}/export/pdf",
    "/admin/audit.csv",
    "/admin/people/{person_id}",
    "/admin/catalogues/{key}/export.yaml",
    "/annual-report/{ward_id}/2025/report.docx",
    "/annual-report/{ward_id}/2025/report.pdf",
)


@pytest.fixture
def world(app) -> World:
    """The results world (tests/results_world.py); its 区民課 chief is also a city-wide admin
    and committee member, so that every page opens for them."""
    with app.app_context():
        built = build_world()
        chief = db.session.get(Person, built.chief)
        assert chief is not None
        chief.grants += [Grant(role=GrantRole.ADMIN), Grant(role=GrantRole.COMMITTEE)]
        # A ward's catalogue (the admin's catalogue pages are a ward's) and a working team.
        ward = db.session.get(Ward, built.takatsu_ward_id)
        factories.catalogue("w-2025", standards=2).ward = ward
        factories.working_team(ward)
        db.session.commit()
        return built


def _samples(world: World) -> dict[str, object]:
    return {
        "round_id": world.round_id, "section_id": world.soumu_section_id,
        "ward_id": world.takatsu_ward_id, "person_id": world.staff, "fiscal_year": 2025,
        "key": "w-2025", "standard_key": "std-1", "token": "not-a-token", "code": "ja",
        "filename": "kijun.css", "action_id": 1, "team_id": 1, "table_id": 1,
        "name": "kijun-mail-1.eml",
    }


def _get_urls(app, samples: dict[str, object]) -> list[tuple[str, str]]:
    """(endpoint, url) of every GET rule, each export format of the format rules."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        values = {arg: samples[arg] for arg in rule.arguments if arg != "fmt"}
        for fmt in FORMATS if "fmt" in rule.arguments else (None,):
            built = rule.build(values | ({"fmt": fmt} if fmt else {}))[1]
            urls.append((rule.endpoint, built))
    return urls


def test_every_page_reply_and_download_of_a_signed_in_person_is_no_store(
    app, client, sign_in, world
):
    """Signed in as a chief who is also admin and committee, every GET route of the app that
    answers 200 says ``no-store`` (downloads included, xlsx, PDF and docx too), except the
    static files, which keep their caching."""
    sign_in(world.chief)
    samples = _samples(world)
    ok: set[str] = set()
    for endpoint, url in _get_urls(app, samples):
        with client.get(url) as response:  # a static file is streamed: close it
            status, headers = response.status_code, response.headers
        cache_control = headers.get("Cache-Control", "")
        if endpoint in ("static", "vendor.plotly_js"):
            assert status == 200 and "no-store" not in cache_control, url
            continue
        # Every answer, not only the 200s: a refusal or a redirect is not kept either.
        assert cache_control == "no-store", (url, status, cache_control)
        assert headers["Pragma"] == "no-cache", url
        if status == 200:
            ok.add(url)
    named = {url.format(**samples) for url in NAMED}
    assert named <= ok, sorted(named - ok)
    assert len(ok) >= 55, sorted(ok)


def test_static_assets_keep_their_caching_for_everyone(app, client, sign_in, world):
    """plotly.js stays public for a year and the stylesheet keeps Flask's caching, signed in
    or not."""
    for who in (None, world.chief):
        if who is not None:
            sign_in(who)
        with client.get("/vendor/plotly.min.js") as plotly:
            assert plotly.status_code == 200
            assert plotly.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        with client.get("/static/kijun.css") as css:
            assert css.status_code == 200
            assert "no-store" not in css.headers.get("Cache-Control", "")
            assert "Pragma" not in css.headers


def test_errors_and_anonymous_api_replies_are_no_store(app, client, world):
    """An API refusal, a page that does not exist and the sign-in page are not kept either."""
    for url, status in (
        (f"/api/v1/rounds/{world.round_id}/checklist", 401),
        ("/api/v1/rounds", 401),
        ("/no-such-page", 404),
        ("/auth/login", 200),
    ):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Cache-Control"] == "no-store", url
