"""The checklist page from its kept frame (app/checklist/frame.py) is the very page Jinja
writes in full, for every kind of reader one after another, and carries nothing of the reader
before."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.checklist.frame import FRAME_CACHE_KEY
from app.extensions import db
from app.i18n import LANG_COOKIE
from app.models import Grant, GrantRole, Role
from tests import factories
from tests.conftest import SignIn

CSRF = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]*"|'
                  r'(type="hidden" name="csrf_token" value=")[^"]*"')


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    """One open and one closed round; staff and chiefs in two sections of different kinds,
    each asked a section standard of its own; one with a draft and a comment, one an admin,
    one whose name and section are HTML."""
    with app.app_context():
        catalogue = factories.catalogue(standards=3)
        factories.section_standards(
            catalogue, (24, ()), (25, ("庁舎管理担当課",)), (26, ("窓口担当課",))
        )
        # Both chiefs have five items, under different scene headings.
        catalogue.standards[-1].scene = "窓口"
        kumin = factories.section("区民課", kinds=("窓口担当課",))
        building = factories.section("総務課", kinds=("庁舎管理担当課",))
        html = factories.section("<b>課</b>&")
        open_round = factories.round_(catalogue)
        now = datetime.now(UTC)
        closed_round = factories.round_(
            catalogue, title="締め切った調査", opens_at=now - timedelta(days=9),
            closes_at=now - timedelta(days=1),
        )
        ids = {"open": open_round.id, "closed": closed_round.id}
        ids["staff"] = factories.person(section=kumin, name="山田 花子").id
        drafter = factories.person(section=kumin, name="鈴木 一郎")
        factories.response(open_round, drafter, {"std-1": "yes", "std-2": "no"}, section=kumin,
                           submitted=False, comments={"std-2": '窓口が<混む> & "待つ"'})
        ids["drafter"] = drafter.id
        other = factories.person(section=kumin, name="佐藤 次郎")
        factories.response(open_round, other, {"std-1": "yes", "std-2": "no"}, section=kumin,
                           submitted=False, comments={"std-2": "別のひとこと"})
        ids["other_drafter"] = other.id
        ids["chief"] = factories.person(section=kumin, role=Role.CHIEF, name="区民 課長").id
        ids["building_chief"] = factories.person(
            section=building, role=Role.CHIEF, name="総務 課長").id
        admin = factories.person(section=building, name="管理 太郎")
        admin.grants.append(Grant(role=GrantRole.ADMIN))
        ids["admin"] = admin.id
        ids["html"] = factories.person(section=html, name="<script>x</script>").id
        db.session.commit()
        return ids


def _page(client: FlaskClient, sign_in: SignIn, person: int, round_id: int) -> str:
    sign_in(person)
    response = client.get(f"/rounds/{round_id}/checklist")
    assert response.status_code == 200
    return CSRF.sub(lambda m: (m.group(1) or m.group(2)) + 'TOKEN"', response.get_data(True))


def test_framed_pages_are_the_pages_jinja_writes(app, client, sign_in, people):
    """Staff, a drafter with a comment, chiefs of two kinds of section, an admin and an HTML
    name, in Japanese and English, on an open and a closed round, each read right after the
    others from kept frames: every page equals the page written in full without frames."""
    readers = ["staff", "drafter", "other_drafter", "chief", "building_chief", "admin", "html"]
    visits = [(who, round_name, lang) for lang in ("ja", "en") for round_name in
              ("open", "closed") for who in readers]
    framed = {}
    for who, round_name, lang in visits:
        client.set_cookie(LANG_COOKIE, lang)
        framed[(who, round_name, lang)] = _page(client, sign_in, people[who], people[round_name])
    assert app.extensions[FRAME_CACHE_KEY]  # the pages above came from frames
    app.jinja_env.auto_reload = True  # no frames, no kept items: every page written in full
    for who, round_name, lang in visits:
        client.set_cookie(LANG_COOKIE, lang)
        full = _page(client, sign_in, people[who], people[round_name])
        assert framed[(who, round_name, lang)] == full, (who, round_name, lang)


def test_a_framed_page_carries_nothing_of_the_reader_before(client, sign_in, people):
    """The drafter's page, then another drafter's with a comment on the same item, then a
    colleague's from the same frame: each page has its own name and comment (escaped) and none
    of the others'; the colleague's has no answer chosen; the HTML name and section are
    escaped."""
    drafter = _page(client, sign_in, people["drafter"], people["open"])
    assert "鈴木 一郎" in drafter and "窓口が&lt;混む&gt; &amp; &#34;待つ&#34;" in drafter
    other = _page(client, sign_in, people["other_drafter"], people["open"])
    assert "別のひとこと" in other and "混む" not in other  # the same kept item, its own comment
    staff = _page(client, sign_in, people["staff"], people["open"])
    assert "山田 花子" in staff
    assert "鈴木 一郎" not in staff and "混む" not in staff and " checked" not in staff
    assert "別のひとこと" not in staff
    html = _page(client, sign_in, people["html"], people["open"])
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<b>課</b>" not in html and "&lt;b&gt;課&lt;/b&gt;&amp;" in html
    assert "kijun-slot" not in html and "\x00" not in html


def test_a_flashed_message_is_shown_once_on_a_page_written_in_full(client, sign_in, people):
    """After a draft is saved the page that follows shows 「一時保存しました。」 (not a kept
    frame without it), and the next page does not show it again."""
    sign_in(people["staff"])
    path = f"/rounds/{people['open']}/checklist"
    client.get(path)
    response = client.post(path, data={"std-1": "yes", "save_draft": "一時保存"})
    assert response.status_code == 302
    assert "一時保存しました。" in client.get(path).get_data(True)
    assert "一時保存しました。" not in client.get(path).get_data(True)
