"""Next year's standards in the browser: the draft, its edits under the rules of
`catalogue load`, the preview, the YAML export, publishing, the ward scope and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Catalogue, Grant, GrantRole, Person, Role, Round, Standard
from app.services.catalogue import drafts as drafts
from app.services.catalogue.catalogues import load_catalogues
from app.services.rounds.checklist_page import checklist_for
from app.services.rounds.rounds import RoundError, create_round
from tests import factories


@pytest.fixture
def surveys(app):
    """Every catalogue of surveys/ loaded, with the 高津区 and 幸区 wards."""
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]))
        factories.ward("幸区")
        db.session.commit()


@pytest.fixture
def takatsu_admin(app, client, sign_in, surveys):
    """A signed-in admin of 高津区 only."""
    with app.app_context():
        takatsu = factories.ward("高津区")
        person = factories.person(employee_id="900004")
        person.grants.append(Grant(role=GrantRole.ADMIN, ward=takatsu))
        db.session.commit()
        sign_in(person)
        return person.id


def _draft(client) -> None:
    response = client.post(
        "/admin/catalogues/takatsu-2025/next",
        data={"key": "takatsu-2026", "title": "令和8年度 区役所サービス基準（高津区）"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def _catalogue(key: str) -> Catalogue:
    return db.session.scalars(sa.select(Catalogue).where(Catalogue.key == key)).one()


def _standards(key: str) -> dict[str, Standard]:
    return {s.key: s for s in _catalogue(key).standards}


def _actions() -> list[tuple[str, str | None, int | None]]:
    query = sa.select(AuditEvent.action, AuditEvent.target_id, AuditEvent.actor_id)
    rows = db.session.execute(query.order_by(AuditEvent.id))
    return [(action, target, actor) for action, target, actor in rows]


def _standard_form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "number": "34",
        "text": "窓口で待つ人に、おおよその待ち時間を伝えています。",
        "scene": "応対",
        "audience": "everyone",
    }
    data.update(changes)
    return data


def test_next_years_draft_copies_the_standards_with_their_keys(app, client, takatsu_admin):
    """The draft is the next fiscal year's, in the same ward, with the same standards and keys,
    not published, and its creation is in the audit log."""
    page = client.get("/admin/catalogues/takatsu-2025/next")
    assert page.status_code == 200
    assert 'value="takatsu-2026"' in page.get_data(as_text=True)
    _draft(client)
    with app.app_context():
        draft, source = _catalogue("takatsu-2026"), _catalogue("takatsu-2025")
        assert draft.is_draft and draft.fiscal_year == 2026 and draft.ward_id == source.ward_id
        assert [(s.key, s.number, s.text, s.ward_specific) for s in draft.standards] == [
            (s.key, s.number, s.text, s.ward_specific) for s in source.standards
        ]
        assert ("catalogue.create", "takatsu-2026", takatsu_admin) in _actions()


def test_a_draft_cannot_be_used_for_a_round(app, client, runner, takatsu_admin):
    """The round form does not offer a draft, and neither the form, the service nor the CLI
    creates a round on it; the public pages do not show it."""
    _draft(client)
    form = client.get("/admin/rounds/new").get_data(as_text=True)
    assert "takatsu-2025" in form and "takatsu-2026" not in form
    opens = datetime(2026, 11, 1, tzinfo=UTC)
    response = client.post("/admin/rounds/new", data={
        "catalogue": "takatsu-2026", "wards": ["高津区"], "opens": "2026-11-01 09:00",
        "closes": "2026-11-20 17:00", "reminder_days": "7",
    })
    assert response.status_code == 400
    with app.app_context():
        with pytest.raises(RoundError, match="下書き"):
            create_round("takatsu-2026", ["高津区"], opens, opens + timedelta(days=9))
        db.session.rollback()
    result = runner.invoke(args=["round", "create", "--catalogue", "takatsu-2026", "--ward",
                                 "高津区", "--opens", "2026-11-01 09:00",
                                 "--closes", "2026-11-20 17:00"])
    assert result.exit_code == 1 and "下書き" in result.stderr
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Round.id))) == 0
    assert "takatsu-2026" not in client.get("/").get_data(as_text=True)
    assert client.get("/catalogues/takatsu-2026").status_code == 404


def test_the_ward_edits_its_own_standards_but_not_the_citys(app, client, takatsu_admin):
    """A ward standard's text, scene and audience change; a city standard's text is refused
    with a message, only its number may change."""
    _draft(client)
    own = client.post(
        "/admin/catalogues/takatsu-2026/standards/takatsu-hygiene",
        data=_standard_form(number="33", text="清潔な身だしなみを心がけています。",
                            scene="対面", audience="everyone"),
    )
    assert own.status_code == 302
    city = client.post(
        "/admin/catalogues/takatsu-2026/standards/notice-media",
        data=_standard_form(number="1", text="書き換えた文", scene="お知らせ"),
    )
    assert city.status_code == 400
    assert "全区共通の基準です" in city.get_data(as_text=True)
    with app.app_context():
        standards = _standards("takatsu-2026")
        assert standards["takatsu-hygiene"].text == "清潔な身だしなみを心がけています。"
        assert standards["takatsu-hygiene"].scene == "対面"
        assert standards["notice-media"].text.startswith("市民向けの広報")
        assert _standards("takatsu-2025")["takatsu-hygiene"].text != standards[
            "takatsu-hygiene"].text
        events = _actions()
    assert events[-1][0] == "catalogue.update"


def test_a_new_standard_gets_a_new_key_and_a_section_audience(app, client, takatsu_admin):
    """A standard added as 課として for 庁舎管理担当課 gets a key no catalogue used and is
    ward-specific, the next one another key; section kinds on an 'everyone' standard are
    refused."""
    _draft(client)
    response = client.post(
        "/admin/catalogues/takatsu-2026/standards/new",
        data=_standard_form(audience="section", scene="庁舎案内",
                            section_kinds=["庁舎管理担当課"]),
    )
    assert response.status_code == 302
    refused = client.post(
        "/admin/catalogues/takatsu-2026/standards/new",
        data=_standard_form(number="35", section_kinds=["研修担当課"]),
    )
    assert refused.status_code == 400
    assert "課として" in refused.get_data(as_text=True)
    second = client.post("/admin/catalogues/takatsu-2026/standards/new",
                         data=_standard_form(number="35"))
    assert second.status_code == 302
    with app.app_context():
        assert _standards("takatsu-2026")["takatsu-2026-2"].number == 35
        added = _standards("takatsu-2026")["takatsu-2026-1"]
        assert (added.number, added.ward_specific, str(added.audience)) == (34, True, "section")
        assert [k.name for k in added.section_kinds] == ["庁舎管理担当課"]
        assert [s.number for s in _catalogue("takatsu-2026").standards][-2:] == [34, 35]


def test_every_rule_of_catalogue_load_applies(app, client, takatsu_admin):
    """A number already taken is refused with the loader's message, an unknown scene, a too
    long text and a duplicate renumbering too; nothing is written and no page fails."""
    _draft(client)
    taken = client.post("/admin/catalogues/takatsu-2026/standards/new",
                        data=_standard_form(number="31"))
    assert taken.status_code == 400
    assert "No.31 が重複しています" in taken.get_data(as_text=True)
    scene = client.post("/admin/catalogues/takatsu-2026/standards/new",
                        data=_standard_form(scene="廊下"))
    assert scene.status_code == 400
    long = client.post("/admin/catalogues/takatsu-2026/standards/new",
                       data=_standard_form(text="長" * (drafts.TEXT_MAX_LENGTH + 1)))
    assert long.status_code == 400 and "文字まで" in long.get_data(as_text=True)
    numbers = client.post("/admin/catalogues/takatsu-2026/numbers",
                          data={"n-notice-media": "2"})
    assert numbers.status_code == 400
    with app.app_context():
        assert len(_catalogue("takatsu-2026").standards) == 31


def test_a_catalogue_has_a_limited_number_of_standards(app, client, takatsu_admin, monkeypatch):
    """Adding beyond MAX_STANDARDS is refused in plain Japanese."""
    _draft(client)
    monkeypatch.setattr(drafts, "MAX_STANDARDS", 31)
    response = client.post("/admin/catalogues/takatsu-2026/standards/new",
                           data=_standard_form())
    assert response.status_code == 400
    assert "基準は 31 件までです" in response.get_data(as_text=True)


def test_renumbering_and_retiring(app, client, takatsu_admin):
    """New numbers reorder the list (keys kept); a ward standard is retired, a city one not."""
    _draft(client)
    with app.app_context():
        data = {f"n-{s.key}": str(s.number) for s in _catalogue("takatsu-2026").standards}
    data.update({"n-takatsu-listen-closely": "29", "n-takatsu-hygiene": "30"})
    assert client.post("/admin/catalogues/takatsu-2026/numbers", data=data).status_code == 302
    retired = client.post("/admin/catalogues/takatsu-2026/standards/takatsu-hygiene/retire")
    assert retired.status_code == 302
    client.post("/admin/catalogues/takatsu-2026/standards/notice-media/retire")
    with app.app_context():
        standards = _catalogue("takatsu-2026").standards
        assert [s.number for s in standards][-2:] == [29, 32]
        assert "takatsu-hygiene" not in {s.key for s in standards}
        assert "notice-media" in {s.key for s in standards}


def test_an_answered_standard_keeps_its_text(app, client, takatsu_admin):
    """Rewording a standard of a published catalogue that already has answers is refused with
    a clear message; nothing changes."""
    with app.app_context():
        catalogue = _catalogue("takatsu-2025")
        section = factories.section("区民課", ward_name="高津区")
        person = factories.person(section=section, fiscal_year=2025)
        round_ = factories.closed_round(catalogue, wards=[section.ward], fiscal_year=2025)
        factories.response(round_, person, {"takatsu-hygiene": "yes"}, section=section)
        db.session.commit()
    response = client.post(
        "/admin/catalogues/takatsu-2025/standards/takatsu-hygiene",
        data=_standard_form(number="33", text="別の文", scene="共通"),
    )
    assert response.status_code == 400
    assert "すでに回答があるため" in response.get_data(as_text=True)
    with app.app_context():
        assert _standards("takatsu-2025")["takatsu-hygiene"].text != "別の文"


def test_the_preview_is_the_checklist_of_each_kind_of_person(app, client, takatsu_admin):
    """Staff see the everyone standards; a chief of 庁舎管理担当課 also the section standards
    for all sections and for that kind, exactly as checklist_for lists them in a round."""
    with app.app_context():
        building = factories.section("総務課", ward_name="高津区", kinds=("庁舎管理担当課",))
        chief = factories.person(section=building, role=Role.CHIEF, fiscal_year=2026)
        staff = factories.person(section=building, fiscal_year=2026)
        db.session.commit()
        chief_id, staff_id = chief.id, staff.id
    _draft(client)
    staff_page = client.get("/admin/catalogues/takatsu-2026/preview?as=staff")
    chief_page = client.get("/admin/catalogues/takatsu-2026/preview?as=chief:庁舎管理担当課")
    assert staff_page.status_code == chief_page.status_code == 200
    assert "No.24" not in staff_page.get_data(as_text=True)
    assert "No.26" in chief_page.get_data(as_text=True)
    assert "No.28" not in chief_page.get_data(as_text=True)
    with app.app_context():
        draft = _catalogue("takatsu-2026")
        viewers = {v.code: v for v in drafts.preview_viewers(draft)}
        previews = {
            code: [i.key for i in drafts.preview_items(draft, viewers[code])]
            for code in ("staff", "chief:庁舎管理担当課")
        }
        assert viewers["chief:研修担当課"].section_id is None
        drafts.publish(draft)
        assert draft.ward is not None
        round_ = factories.round_(draft, wards=[draft.ward], fiscal_year=2026)
        db.session.commit()
        for person_id, code in ((staff_id, "staff"), (chief_id, "chief:庁舎管理担当課")):
            person = db.session.get_one(Person, person_id)
            sheet = checklist_for(round_.id, person)
            assert [i.key for i in sheet.items] == previews[code]


def test_the_yaml_export_loads_back_identically(app, client, takatsu_admin, tmp_path):
    """The exported file is read by catalogue load as it is: unchanged on the same database,
    and the same standards on a fresh one."""
    _draft(client)
    client.post("/admin/catalogues/takatsu-2026/standards/new",
                data=_standard_form(audience="section", scene="庁舎案内",
                                    section_kinds=["庁舎管理担当課"]))
    response = client.get("/admin/catalogues/takatsu-2026/export.yaml")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    path = tmp_path / "takatsu-2026.yaml"
    path.write_bytes(response.data)
    with app.app_context():
        before = [drafts.standard_values(s) for s in _catalogue("takatsu-2026").standards]
        (result,) = load_catalogues(path)
        assert result.status == "unchanged", result
        db.session.rollback()
        catalogue = _catalogue("takatsu-2026")
        catalogue.key = "elsewhere"  # as if the file were loaded on another database
        db.session.flush()
        (fresh,) = load_catalogues(path)
        assert fresh.status == "added"
        assert [drafts.standard_values(s) for s in _catalogue("takatsu-2026").standards] == before
        db.session.rollback()


def test_publishing_asks_for_a_confirmation_then_the_round_form_offers_it(
    app, client, takatsu_admin
):
    """The publish page shows what changed since last year; without the tick nothing happens;
    with it the catalogue is published, logged, and can be used for a round."""
    _draft(client)
    client.post("/admin/catalogues/takatsu-2026/standards/new", data=_standard_form())
    page = client.get("/admin/catalogues/takatsu-2026/publish")
    assert page.status_code == 200
    assert "加える：No.34" in page.get_data(as_text=True)
    assert client.post("/admin/catalogues/takatsu-2026/publish", data={}).status_code == 400
    with app.app_context():
        assert _catalogue("takatsu-2026").is_draft
    done = client.post("/admin/catalogues/takatsu-2026/publish", data={"confirm": "y"})
    assert done.status_code == 302
    with app.app_context():
        assert not _catalogue("takatsu-2026").is_draft
        assert ("catalogue.publish", "takatsu-2026", takatsu_admin) in _actions()
    assert "takatsu-2026" in client.get("/admin/rounds/new").get_data(as_text=True)
    assert client.post("/admin/catalogues/takatsu-2026/publish",
                       data={"confirm": "y"}).status_code == 409


def test_another_wards_admin_cannot_see_or_touch_the_draft(app, client, sign_in, takatsu_admin):
    """An admin of 幸区 gets 404 for every page and action on 高津区's draft and catalogues,
    does not see them listed, and nothing changes."""
    _draft(client)
    with app.app_context():
        intruder = factories.person(employee_id="800001")
        intruder.grants.append(Grant(role=GrantRole.ADMIN, ward=factories.ward("幸区")))
        db.session.commit()
        sign_in(intruder)
        events = len(_actions())
    assert "takatsu" not in client.get("/admin/catalogues").get_data(as_text=True)
    base = "/admin/catalogues/takatsu-2026"
    for url in (base, f"{base}/preview", f"{base}/export.yaml", f"{base}/publish",
                f"{base}/numbers", f"{base}/standards/new", f"{base}/standards/takatsu-hygiene",
                "/admin/catalogues/takatsu-2025/next", "/admin/catalogues/city-2024"):
        assert client.get(url).status_code == 404, url
    for url, data in (
        (f"{base}/publish", {"confirm": "y"}),
        (f"{base}/standards/new", _standard_form()),
        (f"{base}/standards/takatsu-hygiene", _standard_form(number="33", text="乗っ取り")),
        (f"{base}/standards/takatsu-hygiene/retire", {}),
        (f"{base}/numbers", {"n-takatsu-hygiene": "99"}),
        ("/admin/catalogues/takatsu-2025/next", {"key": "takatsu-2099", "title": "x"}),
    ):
        assert client.post(url, data=data).status_code == 404, url
    with app.app_context():
        draft = _catalogue("takatsu-2026")
        assert draft.is_draft and len(draft.standards) == 31
        assert _standards("takatsu-2026")["takatsu-hygiene"].number == 33
        assert len(_actions()) == events


def test_staff_cannot_reach_the_editor(app, client, sign_in, surveys):
    """A person without an admin grant gets 403 on the catalogue pages."""
    with app.app_context():
        person = factories.person()
        db.session.commit()
        sign_in(person)
    assert client.get("/admin/catalogues").status_code == 403
    assert client.post("/admin/catalogues/takatsu-2025/next", data={}).status_code == 403


def test_catalogue_load_and_round_create_on_the_command_line_are_logged(app, runner):
    """`catalogue load` logs each catalogue it added (actor empty); `round create` on another
    year's catalogue needs --confirm-year, and is logged."""
    result = runner.invoke(args=["catalogue", "load", app.config["SURVEYS_DIR"]])
    assert result.exit_code == 0, result.output
    with app.app_context():
        logged = [(a, t, actor) for a, t, actor in _actions() if a == "catalogue.create"]
        assert ("catalogue.create", "takatsu-2025", None) in logged and len(logged) == 4
    again = runner.invoke(args=["catalogue", "load", app.config["SURVEYS_DIR"]])
    assert again.exit_code == 0
    base = ["round", "create", "--catalogue", "takatsu-2025", "--ward", "高津区",
            "--opens", "2026-11-01 09:00", "--closes", "2026-11-20 17:00"]
    refused = runner.invoke(args=base)
    assert refused.exit_code == 1
    assert "--confirm-year" in refused.stderr and "令和8年度" in refused.stderr
    created = runner.invoke(args=[*base, "--confirm-year"])
    assert created.exit_code == 0, created.output
    with app.app_context():
        events = _actions()
        assert len([e for e in events if e[0] == "catalogue.create"]) == 4
        assert events[-1] == ("round.create", created.stdout.splitlines()[-1], None)


def test_bad_input_is_a_clear_400_never_a_500(app, client, takatsu_admin):
    """Unreadable numbers, unknown choices, a bad key or title and unknown standards answer
    400 or 404 with a Japanese message; nothing is written."""
    _draft(client)
    base = "/admin/catalogues/takatsu-2026"
    with app.app_context():
        events = len(_actions())
    for data, message in (
        (_standard_form(number="abc"), "番号は 1 から 999 までの数で"),
        (_standard_form(number="0"), "番号は 1 から 999 までの数で"),
        (_standard_form(number=""), "番号を数字で入れてください"),
        (_standard_form(scene="廊下"), "場面を選んでください"),
        (_standard_form(text="   "), "基準の文"),
        (_standard_form(audience="chief"), "だれが答えるか"),
        (_standard_form(audience="section", section_kinds=["倉庫課"]), "課の種類は一覧から"),
    ):
        response = client.post(f"{base}/standards/new", data=data)
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), data
    bad_key = client.post("/admin/catalogues/takatsu-2025/next",
                          data={"key": "Takatsu 2026!", "title": "令和8年度"})
    assert bad_key.status_code == 400
    assert "英小文字・数字・ハイフン" in bad_key.get_data(as_text=True)
    taken = client.post("/admin/catalogues/takatsu-2025/next",
                        data={"key": "takatsu-2026", "title": "令和8年度"})
    assert taken.status_code == 400 and "すでにあります" in taken.get_data(as_text=True)
    long_title = client.post("/admin/catalogues/takatsu-2025/next",
                             data={"key": "takatsu-2027", "title": "長" * 201})
    assert long_title.status_code == 400
    assert client.get(f"{base}/standards/no-such-standard").status_code == 404
    assert client.get("/admin/catalogues/no-such-catalogue").status_code == 404
    numbers = client.post(f"{base}/numbers", data={"n-notice-media": "１"})
    assert numbers.status_code == 400
    assert client.get(f"{base}/preview?as=nobody").status_code == 200
    with app.app_context():
        assert len(_actions()) == events
        assert len(_catalogue("takatsu-2026").standards) == 31
