"""The person's pages: my rounds (/me), the checklist, and the chief's view of the section."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Answer,
    Audience,
    Catalogue,
    Person,
    Response,
    Role,
    Round,
    Standard,
)
from app.services.catalogue.catalogues import load_catalogues
from app.wareki import fiscal_year_of, reiwa_datetime, tokyo
from tests import factories

# --- a small DOM, enough to ask questions about the pages -------------------------------------

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Node]:
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.walk()
            if (tag is None or n.tag == tag)
            and all(n.attrs.get(k) == v or (v is True and k in n.attrs) for k, v in wanted.items())
        ]

    def find(self, tag: str | None = None, **attrs: str | bool) -> Node | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, **attrs: str | bool) -> Node:
        found = self.find(tag, **attrs)
        assert found is not None, f"no <{tag}> with {attrs}"
        return found

    def by_id(self, id_: str) -> Node:
        found = self.find(id=id_)
        assert found is not None, f"no element #{id_}"
        return found


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(response) -> Node:
    builder = _Builder()
    builder.feed(response.get_data(as_text=True))
    return builder.root


def squash(text: str) -> str:
    return " ".join(text.split())


# --- the world: a ward with a 庁舎管理担当課, its staff and chief, another section, a round ------


def _current_fiscal_year() -> int:
    return fiscal_year_of(tokyo(datetime.now(UTC)))


@dataclass
class World:
    round_id: int
    staff: int
    chief: int
    neighbour_chief: int
    other_chief: int
    outsider: int
    everyone_keys: list[str]
    section_keys: list[str]
    scene_of: dict[str, str]
    closes_at: datetime


@pytest.fixture
def world(app) -> World:
    """The city catalogue, a round open now in 高津区, and people in and out of it."""
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]) / "city-2024.yaml")
        catalogue = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == "city-2024"))
        assert catalogue is not None
        fy = _current_fiscal_year()
        building = factories.section("総務課", kinds=("庁舎管理担当課",))
        other = factories.section("区民課")
        elsewhere = factories.section("幸区の課", ward_name="幸区")
        staff = factories.person(section=building, fiscal_year=fy, name="山田 花子")
        chief = factories.person(
            section=building, role=Role.CHIEF, fiscal_year=fy, name="佐藤 一郎"
        )
        neighbour_chief = factories.person(section=other, role=Role.CHIEF, fiscal_year=fy)
        other_chief = factories.person(section=elsewhere, role=Role.CHIEF, fiscal_year=fy)
        outsider = factories.person(section=elsewhere, fiscal_year=fy)
        now = datetime.now(UTC)
        closes_at = now + timedelta(days=7)
        round_ = Round(
            title="自己点検テスト",
            catalogue=catalogue,
            fiscal_year=fy,
            opens_at=now - timedelta(days=1),
            closes_at=closes_at,
            wards=[building.ward],
        )
        db.session.add(round_)
        db.session.commit()
        standards = catalogue.standards
        return World(
            round_id=round_.id,
            staff=staff.id,
            chief=chief.id,
            neighbour_chief=neighbour_chief.id,
            other_chief=other_chief.id,
            outsider=outsider.id,
            everyone_keys=[
                s.key for s in standards if s.audience == Audience.EVERYONE and not s.ward_specific
            ],
            section_keys=[s.key for s in standards if s.number in (24, 25, 26, 27)],
            scene_of={s.key: s.scene for s in standards},
            closes_at=closes_at,
        )


@pytest.fixture
def as_person(app, sign_in):
    """Sign in the person with this id on the test client."""

    def _as(person_id: int) -> None:
        with app.app_context():
            sign_in(db.session.get(Person, person_id))

    return _as


def _url(world: World) -> str:
    return f"/rounds/{world.round_id}/checklist"


def _stored_answers(app, world: World, person_id: int) -> tuple[str | None, dict[str, str]]:
    with app.app_context():
        response = db.session.scalar(
            sa.select(Response).where(
                Response.round_id == world.round_id, Response.person_id == person_id
            )
        )
        if response is None:
            return None, {}
        rows = db.session.execute(
            sa.select(Standard.key, Answer.value)
            .join(Answer, Answer.standard_id == Standard.id)
            .where(Answer.response_id == response.id)
        ).all()
        return response.status.value, {key: value.value for key, value in rows}


def _all_answers(keys: list[str], value: str = "yes") -> dict[str, str]:
    return dict.fromkeys(keys, value)


# --- my page --------------------------------------------------------------------------------


def test_my_page_lists_the_round_with_status_and_reiwa_deadline(client, world, as_person):
    """/me shows the round's title, 未回答, the 令和 deadline with the Western date and 回答する."""
    as_person(world.staff)
    response = client.get("/me")
    assert response.status_code == 200
    page = dom(response)
    text = squash(page.text())
    assert "自己点検テスト" in text
    assert "未回答" in text
    assert reiwa_datetime(world.closes_at) in text
    local = tokyo(world.closes_at)
    assert f"{local.year}年{local.month}月{local.day}日" in text
    assert "受付中" in text
    link = page.find("a", href=_url(world))
    assert link is not None and "回答する" in link.text()
    assert page.find("a", href=f"/rounds/{world.round_id}/section") is None


def test_my_page_shows_a_chief_the_link_to_the_section_page(client, world, as_person):
    """A chief's /me links to the section page of the round."""
    as_person(world.chief)
    page = dom(client.get("/me"))
    link = page.find("a", href=f"/rounds/{world.round_id}/section")
    assert link is not None and "課の回答状況" in link.text()


def test_my_page_says_in_plain_words_when_there_is_nothing_to_answer(app, client, as_person):
    """Someone without a round sees an empty state, not an empty list."""
    with app.app_context():
        lonely = factories.person()
        db.session.commit()
        lonely_id = lonely.id
    as_person(lonely_id)
    response = client.get("/me")
    assert response.status_code == 200
    assert "いま、あなたが答える調査はありません。" in response.get_data(as_text=True)


def test_home_page_links_a_signed_in_person_to_my_page(client, world, as_person):
    """The public home page gains a link to /me once signed in (and the nav has わたしの調査)."""
    assert dom(client.get("/")).find("a", href="/me") is None
    as_person(world.staff)
    page = dom(client.get("/"))
    links = page.find_all("a", href="/me")
    assert len(links) == 2
    assert any("わたしの調査" in a.text() for a in links)


# --- the checklist page ---------------------------------------------------------------------


def test_checklist_shows_one_fieldset_per_standard_with_three_radios(client, world, as_person):
    """Staff see a fieldset per 1-23 standard, legend with number and text, 3 labelled radios."""
    as_person(world.staff)
    response = client.get(_url(world))
    assert response.status_code == 200
    page = dom(response)
    fieldsets = page.find_all("fieldset")
    assert [f.attrs["id"] for f in fieldsets] == [f"item-{key}" for key in world.everyone_keys]
    assert len(fieldsets) == 23
    for fieldset in fieldsets:
        key = fieldset.attrs["id"].removeprefix("item-")
        legend = fieldset.find("legend")
        assert legend is not None and squash(legend.text()).startswith("No.")
        radios = fieldset.find_all("input", type="radio")
        assert [r.attrs["name"] for r in radios] == [key] * 3
        assert [r.attrs["value"] for r in radios] == ["yes", "no", "na"]
        labels = [squash(label.text()) for label in fieldset.find_all("label", class_="choice")]
        assert labels == ["できている", "できていない", "該当しない"]
        comment = fieldset.find("textarea", name=f"comment__{key}")
        assert comment is not None
        assert fieldset.find("label", for_=f"comment__{key}") is not None
    progress = page.by_id("progress")
    assert progress.attrs["aria-live"] == "polite"
    assert squash(progress.text()) == "回答済み 0 / 全 23 項目"
    assert page.find("input", name="save_draft", value="一時保存") is not None
    assert page.find("input", name="submit_answers", value="提出する") is not None


def test_staff_do_not_see_the_section_part(client, world, as_person):
    """Staff get no 課としての基準 part and none of the section standards."""
    as_person(world.staff)
    page = dom(client.get(_url(world)))
    assert page.find("section", class_="part part-section") is None
    body = page.text()
    assert "課として1回だけ答える基準です" not in body
    for key in world.section_keys:
        assert page.find("fieldset", id=f"item-{key}") is None


def test_chief_of_a_building_section_sees_24_to_27_in_the_section_part(client, world, as_person):
    """A 庁舎管理担当課 chief sees 24-27 in a separate part with its explanation, not 28-30."""
    as_person(world.chief)
    page = dom(client.get(_url(world)))
    part = page.find("section", class_="part part-section")
    assert part is not None
    assert "課として1回だけ答える基準です" in part.text()
    numbers = [squash(n.text()) for n in part.find_all("span", class_="item-number")]
    assert numbers == ["No.24", "No.25", "No.26", "No.27"]
    own = page.find("section", class_="part part-self")
    assert own is not None and len(own.find_all("fieldset")) == 23
    assert squash(page.by_id("progress").text()) == "回答済み 0 / 全 27 項目"


def test_saving_a_draft_keeps_the_answers_and_says_so(app, client, world, as_person):
    """一時保存 stores the chosen answers as a draft, redirects, flashes, and shows them checked."""
    as_person(world.staff)
    first, second = world.everyone_keys[:2]
    response = client.post(
        _url(world),
        data={
            first: "yes",
            second: "na",
            f"comment__{second}": "窓口がありません",
            "save_draft": "一時保存",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(_url(world))
    assert _stored_answers(app, world, world.staff) == ("draft", {first: "yes", second: "na"})

    page = dom(client.get(_url(world)))
    assert "一時保存しました。" in page.text()
    assert "checked" in page.one("input", id=f"{first}-0").attrs
    assert "checked" in page.one("input", id=f"{second}-2").attrs
    assert page.by_id(f"comment__{second}").text().strip() == "窓口がありません"
    assert squash(page.by_id("progress").text()) == "回答済み 2 / 全 23 項目"
    assert "一時保存中" in client.get("/me").get_data(as_text=True)


def test_failed_submit_lists_exactly_the_missing_items_and_keeps_answers(
    app, client, world, as_person
):
    """提出する with items missing: an alert summary linking each missing item, marked items,
    the given answers kept (on the page and as a draft), nothing submitted."""
    as_person(world.staff)
    given = _all_answers(world.everyone_keys[:-3], "no")
    missing = world.everyone_keys[-3:]
    response = client.post(_url(world), data={**given, "submit_answers": "提出する"})
    assert response.status_code == 422
    page = dom(response)

    summary = page.by_id("error-summary")
    assert summary.attrs["role"] == "alert"
    assert summary.attrs["tabindex"] == "-1"
    assert "autofocus" in summary.attrs
    assert summary.find("h2") is not None
    main = page.find("main")
    assert main is not None
    assert next(n for n in main.children if isinstance(n, Node)) is summary
    links = [a.attrs["href"] for a in summary.find_all("a")]
    assert links == [f"#item-{key}" for key in _in_page_order(page, missing)]

    marked = [f for f in page.find_all("fieldset") if "has-error" in f.attrs["class"]]
    assert sorted(f.attrs["id"] for f in marked) == sorted(f"item-{k}" for k in missing)
    for fieldset in marked:
        error_id = fieldset.attrs["aria-describedby"]
        assert "選んでください" in page.by_id(error_id).text()

    for key in given:
        assert "checked" in page.one("input", id=f"{key}-1").attrs
    assert squash(page.by_id("progress").text()) == "回答済み 20 / 全 23 項目"
    assert _stored_answers(app, world, world.staff) == ("draft", given)


def _in_page_order(page: Node, keys: list[str]) -> list[str]:
    ids = [f.attrs["id"].removeprefix("item-") for f in page.find_all("fieldset")]
    return [k for k in ids if k in keys]


def test_submitting_complete_answers_shows_submitted_on_my_page(app, client, world, as_person):
    """A complete submit redirects with the confirmation, and /me then says 提出済み."""
    as_person(world.staff)
    response = client.post(
        _url(world),
        data={**_all_answers(world.everyone_keys, "yes"), "submit_answers": "提出する"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "提出しました。締め切りまでは回答を直せます。" in response.get_data(as_text=True)
    status, answers = _stored_answers(app, world, world.staff)
    assert status == "submitted" and len(answers) == 23

    page = dom(client.get("/me"))
    text = squash(page.text())
    assert "提出済み" in text and "未回答" not in text
    link = page.find("a", href=_url(world))
    assert link is not None and "回答を見直す" in link.text()


def test_chief_must_answer_the_section_part_to_submit(app, client, world, as_person):
    """A chief who answers only their own items cannot submit: 24-27 are listed as missing."""
    as_person(world.chief)
    response = client.post(
        _url(world),
        data={**_all_answers(world.everyone_keys), "submit_answers": "提出する"},
    )
    assert response.status_code == 422
    links = [a.attrs["href"] for a in dom(response).by_id("error-summary").find_all("a")]
    assert links == [f"#item-{key}" for key in world.section_keys]


def test_a_post_after_the_close_is_refused_and_changes_nothing(app, client, world, as_person):
    """After closes_at a POST gets 409 with the closing message; stored answers stay as they were;
    the page is read-only (disabled radios, no buttons)."""
    as_person(world.staff)
    first = world.everyone_keys[0]
    client.post(_url(world), data={first: "yes", "save_draft": "一時保存"})
    before = _stored_answers(app, world, world.staff)
    with app.app_context():
        round_ = db.session.get(Round, world.round_id)
        assert round_ is not None
        round_.opens_at = datetime.now(UTC) - timedelta(days=10)
        round_.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        closes_at = round_.closes_at
        db.session.commit()

    response = client.post(
        _url(world),
        data={**_all_answers(world.everyone_keys, "no"), "submit_answers": "提出する"},
    )
    assert response.status_code == 409
    page = dom(response)
    alert = page.find("div", role="alert")
    assert alert is not None and "締め切られました" in alert.text()
    assert reiwa_datetime(closes_at) in alert.text()
    assert _stored_answers(app, world, world.staff) == before

    page = dom(client.get(_url(world)))
    radios = page.find_all("input", type="radio")
    assert radios and all("disabled" in r.attrs for r in radios)
    assert page.find("input", type="submit") is None
    assert "締め切りました" in page.text()
    assert "checked" in page.one("input", id=f"{first}-0").attrs
    link = dom(client.get("/me")).find("a", href=_url(world))
    assert link is not None and "回答を見る" in link.text()


def test_a_person_not_in_the_round_gets_404(client, world, as_person):
    """Someone of another ward cannot open the round's checklist nor post to it."""
    as_person(world.outsider)
    assert client.get(_url(world)).status_code == 404
    assert client.post(_url(world), data={"save_draft": "一時保存"}).status_code == 404
    assert client.get("/rounds/99999/checklist").status_code == 404


def test_an_unknown_value_is_refused_with_a_message(app, client, world, as_person):
    """A tampered value is not saved: 400 and the item is named in the error summary."""
    as_person(world.staff)
    key = world.everyone_keys[0]
    response = client.post(_url(world), data={key: "maybe", "save_draft": "一時保存"})
    assert response.status_code == 400
    links = [a.attrs["href"] for a in dom(response).by_id("error-summary").find_all("a")]
    assert links == [f"#item-{key}"]
    assert _stored_answers(app, world, world.staff) == (None, {})


# --- the chief's section page ---------------------------------------------------------------


def test_section_page_shows_names_and_statuses_but_no_answers(app, client, world, as_person):
    """The chief sees each member's name and status, counts per status, the unsubmitted first,
    and no answer value of anyone."""
    as_person(world.staff)
    client.post(
        _url(world),
        data={**_all_answers(world.everyone_keys, "no"), "submit_answers": "提出する"},
    )
    as_person(world.chief)
    client.post(_url(world), data={world.everyone_keys[0]: "yes", "save_draft": "一時保存"})

    response = client.get(f"/rounds/{world.round_id}/section")
    assert response.status_code == 200
    page = dom(response)
    text = squash(page.text())
    assert "提出済み 1 人" in text
    assert "一時保存中 1 人" in text
    assert "未回答 0 人" in text
    rows = page.one("tbody").find_all("tr")
    assert [squash(r.one("th").text()) for r in rows] == ["佐藤 一郎 （所属長）", "山田 花子"]
    assert ["一時保存中" in r.text() for r in rows] == [True, False]
    assert "提出済み" in rows[1].text()
    for word in ("できている", "できていない", "該当しない"):
        assert word not in text


def test_section_page_is_404_for_another_chief_and_403_for_staff(client, world, as_person):
    """A chief outside the round gets 404; staff (not chiefs) get 403."""
    url = f"/rounds/{world.round_id}/section"
    as_person(world.other_chief)
    assert client.get(url).status_code == 404
    as_person(world.staff)
    assert client.get(url).status_code == 403


def test_another_sections_chief_sees_only_their_own_section(client, world, as_person):
    """The chief of 区民課 in the same round sees 区民課, never the 総務課 people."""
    as_person(world.neighbour_chief)
    response = client.get(f"/rounds/{world.round_id}/section")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "区民課" in text
    assert "山田 花子" not in text and "佐藤 一郎" not in text


def test_pages_need_a_signed_in_person(client, world):
    """Anonymous visitors are refused (401, or sent to the sign-in page when it exists)."""
    for url in ("/me", _url(world), f"/rounds/{world.round_id}/section"):
        response = client.get(url)
        assert response.status_code in (401, 302)
        if response.status_code == 302:
            assert "/auth/login" in response.headers["Location"]


def test_a_comment_without_an_answer_is_refused_and_linked(app, client, world, as_person):
    """A comment on an unanswered item is not saved; the summary links to its comment box."""
    as_person(world.staff)
    key = world.everyone_keys[0]
    response = client.post(
        _url(world), data={f"comment__{key}": "あとで書く", "save_draft": "一時保存"}
    )
    assert response.status_code == 400
    page = dom(response)
    links = [a.attrs["href"] for a in page.by_id("error-summary").find_all("a")]
    assert links == [f"#comment__{key}"]
    assert page.by_id(f"comment__{key}").text().strip() == "あとで書く"
    fieldset = page.by_id(f"item-{key}")
    assert fieldset.attrs["aria-describedby"] == f"item-{key}-error"
    assert _stored_answers(app, world, world.staff) == (None, {})


def test_a_round_not_yet_open_is_shown_but_not_answerable(app, client, world, as_person):
    """Before opens_at, /me says when it opens and the checklist is read-only."""
    with app.app_context():
        round_ = db.session.get(Round, world.round_id)
        assert round_ is not None
        round_.opens_at = datetime.now(UTC) + timedelta(days=1)
        opens_at = round_.opens_at
        db.session.commit()
    as_person(world.staff)
    text = squash(dom(client.get("/me")).text())
    assert "まだ始まっていません" in text and reiwa_datetime(opens_at) in text
    page = dom(client.get(_url(world)))
    assert all("disabled" in r.attrs for r in page.find_all("input", type="radio"))
    assert page.find("input", type="submit") is None
    response = client.post(_url(world), data={world.everyone_keys[0]: "yes", "save_draft": "x"})
    assert response.status_code == 409
    assert _stored_answers(app, world, world.staff) == (None, {})


# --- the kept HTML of the items (app/checklist/rendering.py) ------------------------------------


def test_each_person_sees_their_own_answers_when_item_html_is_reused(app, client, world, as_person):
    """Pages built from kept item HTML still show each person's own choices and comment, and a
    comment is never kept for the next person."""
    first, second = world.everyone_keys[:2]
    as_person(world.staff)
    client.post(
        _url(world),
        data={first: "yes", second: "na", f"comment__{second}": "山田の秘密のひとこと",
              "save_draft": "一時保存"},
    )
    as_person(world.chief)
    client.post(_url(world), data={first: "no", second: "na", "save_draft": "一時保存"})

    for person_id, first_choice in ((world.staff, 0), (world.chief, 1), (world.staff, 0)):
        as_person(person_id)
        page = dom(client.get(_url(world)))
        checked = [i for i in range(3) if "checked" in page.by_id(f"{first}-{i}").attrs]
        assert checked == [first_choice]
        assert "checked" in page.by_id(f"{second}-2").attrs
        comment = page.by_id(f"comment__{second}").text().strip()
        assert comment == ("山田の秘密のひとこと" if person_id == world.staff else "")
    kept = app.extensions["kijun.checklist_item_html"]
    assert kept, "the plain items were not kept"
    assert not any("山田の秘密" in html for html in kept.values())


def test_kept_item_html_follows_the_language(client, world, as_person):
    """After a Japanese page, the English page's items are in English (and back again)."""
    from app.i18n import LANG_COOKIE

    as_person(world.staff)
    assert "該当しない" in client.get(_url(world)).get_data(as_text=True)
    client.set_cookie(LANG_COOKIE, "en")
    english = client.get(_url(world)).get_data(as_text=True)
    assert "該当しない" not in english
    assert "Not applicable" in english
    client.set_cookie(LANG_COOKIE, "ja")
    assert "該当しない" in client.get(_url(world)).get_data(as_text=True)


def test_kept_item_html_is_the_html_written_afresh(app, client, world, as_person):
    """The page with kept items is byte for byte the page written without keeping anything."""
    as_person(world.staff)
    first = world.everyone_keys[0]
    client.post(_url(world), data={first: "no", "save_draft": "一時保存"})
    client.get(_url(world))  # fills the kept HTML
    kept_page = client.get(_url(world)).get_data(as_text=True)
    assert app.extensions["kijun.checklist_item_html"]
    app.extensions["kijun.checklist_item_html"].clear()
    app.jinja_env.auto_reload = True  # as in development: nothing is kept
    fresh_page = client.get(_url(world)).get_data(as_text=True)
    assert not app.extensions["kijun.checklist_item_html"]
    strip_token = re.compile(r'name="csrf_token"[^>]*>')
    assert strip_token.sub("", kept_page) == strip_token.sub("", fresh_page)


def test_an_expired_csrf_token_shows_the_answers_again_and_saves_nothing(
    app, client, world, as_person
):
    """With CSRF protection on, a save whose token is missing or expired (a long session) is
    refused with the plain "expired" message, the page shows every answer and comment as sent,
    nothing is stored, and sending again with the page's new token saves."""
    app.config["WTF_CSRF_ENABLED"] = True
    as_person(world.staff)
    first, second = world.everyone_keys[:2]
    sent = {first: "no", f"comment__{first}": "長く書いたひとこと", second: "na"}
    for token in (None, "expired-or-forged"):
        data = {**sent, "save_draft": "一時保存"}
        if token:
            data["csrf_token"] = token
        refused = client.post(_url(world), data=data)
        assert refused.status_code == 400
        page = dom(refused)
        assert "画面の有効期限が切れました" in page.text()
        assert "checked" in page.by_id(f"{first}-1").attrs
        assert "checked" in page.by_id(f"{second}-2").attrs
        assert page.by_id(f"comment__{first}").text().strip() == "長く書いたひとこと"
        assert _stored_answers(app, world, world.staff) == (None, {})
    new_token = page.one("input", name="csrf_token").attrs["value"]
    again = {**sent, "save_draft": "一時保存", "csrf_token": new_token}
    saved = client.post(_url(world), data=again)
    assert saved.status_code == 302
    assert _stored_answers(app, world, world.staff) == ("draft", {first: "no", second: "na"})


def test_a_checklist_token_older_than_an_hour_keeps_the_answers(
    app, client, world, as_person, monkeypatch
):
    """A checklist sent more than WTF_CSRF_TIME_LIMIT (an hour) after it was opened: the save
    is refused as expired, every answer and comment comes back as sent, and the page's new
    token saves."""
    import time

    from itsdangerous import TimestampSigner

    app.config["WTF_CSRF_ENABLED"] = True
    as_person(world.staff)
    old_token = dom(client.get(_url(world))).one("input", name="csrf_token").attrs["value"]
    an_hour_later = int(time.time()) + 3600 + 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: an_hour_later)
    first, second = world.everyone_keys[:2]
    sent = {first: "yes", f"comment__{first}": "一時間かけて書いた", second: "no"}
    draft = {**sent, "save_draft": "一時保存"}
    refused = client.post(_url(world), data={**draft, "csrf_token": old_token})
    assert refused.status_code == 400
    page = dom(refused)
    assert "画面の有効期限が切れました" in page.text()
    assert "checked" in page.by_id(f"{first}-0").attrs
    assert "checked" in page.by_id(f"{second}-1").attrs
    assert page.by_id(f"comment__{first}").text().strip() == "一時間かけて書いた"
    assert _stored_answers(app, world, world.staff) == (None, {})
    new_token = page.one("input", name="csrf_token").attrs["value"]
    saved = client.post(_url(world), data={**draft, "csrf_token": new_token})
    assert saved.status_code == 302
    assert _stored_answers(app, world, world.staff) == ("draft", {first: "yes", second: "no"})


def test_head_of_the_checklist_is_like_get(client, world, as_person):
    """A HEAD request (link checkers, proxies) gets 200 like GET, not a refused save."""
    as_person(world.staff)
    assert client.head(_url(world)).status_code == 200
