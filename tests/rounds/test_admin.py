"""The admin's pages: create and edit rounds, and read a round's send ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Catalogue, Grant, GrantRole, MailLedger, MailState, Round
from app.services.operations.schedule import NO_EMAIL
from app.wareki import TOKYO
from tests import factories


def local(moment: datetime) -> str:
    """As a datetime-local input sends it, on Tokyo's clock."""
    return moment.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def admin(app, client, sign_in):
    """A signed-in admin, the 高津区 and 幸区 wards and a catalogue of this fiscal year."""
    with app.app_context():
        person = factories.person()
        person.grants.append(Grant(role=GrantRole.ADMIN))
        factories.ward("高津区")
        factories.ward("幸区")
        factories.catalogue("test-2026", fiscal_year=2026)
        db.session.commit()
        sign_in(person)
        return person.id


def form(opens: datetime, closes: datetime, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "catalogue": "test-2026",
        "wards": ["高津区"],
        "title": "秋の自己点検",
        "opens": local(opens),
        "closes": local(closes),
        "reminder_days": "7,3,1",
    }
    data.update(changes)
    return data


def rounds() -> list[Round]:
    return list(db.session.scalars(sa.select(Round).order_by(Round.id)))


def test_admin_creates_a_round_with_its_reminder_days(app, client, admin):
    """A valid form creates the round on Tokyo's clock with the cadence given."""
    opens = datetime.now(UTC) + timedelta(days=10)
    closes = opens + timedelta(days=20)
    response = client.post(
        "/admin/rounds/new", data=form(opens, closes, reminder_days="１０、5,5")
    )
    assert response.status_code == 302
    with app.app_context():
        (round_,) = rounds()
        assert round_.title == "秋の自己点検"
        assert round_.reminder_days == "10,5"
        assert round_.opens_at == opens.replace(second=0, microsecond=0)
        assert [w.name for w in round_.wards] == ["高津区"]


def test_invalid_form_explains_every_problem_and_writes_nothing(app, client, admin):
    """Unreadable times, no ward and a bad cadence are refused in plain Japanese."""
    response = client.post(
        "/admin/rounds/new",
        data={
            "catalogue": "test-2026",
            "title": "x",
            "opens": "あした",
            "closes": "2026-13-01 09:00",
            "reminder_days": "7,0",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "対象の区を1つ以上選んでください。" in page
    assert "日時「あした」が読めません" in page
    assert "ありえない日付か時刻です" in page
    assert "お知らせを送る日「0」が読めません" in page
    with app.app_context():
        assert rounds() == []


def test_close_before_opening_is_refused(app, client, admin):
    """The service's own checks come back on the form."""
    opens = datetime.now(UTC) + timedelta(days=10)
    response = client.post("/admin/rounds/new", data=form(opens, opens - timedelta(days=1)))
    assert response.status_code == 400
    assert "締め切りは受付開始より後にしてください。" in response.get_data(as_text=True)
    with app.app_context():
        assert rounds() == []


def test_opening_at_once_asks_for_confirmation_first(app, client, admin):
    """A round that would open (and mail everyone) at once is created only once confirmed."""
    opens = datetime.now(UTC) - timedelta(hours=1)
    data = form(opens, opens + timedelta(days=14))
    first = client.post("/admin/rounds/new", data=data)
    assert first.status_code == 200
    assert "保存するとすぐに受付が始まり" in first.get_data(as_text=True)
    with app.app_context():
        assert rounds() == []
    confirmed = client.post("/admin/rounds/new", data={**data, "confirm": "y"})
    assert confirmed.status_code == 302
    with app.app_context():
        assert len(rounds()) == 1


def test_open_round_keeps_its_opening_but_moves_its_close(app, client, admin):
    """An open round's close and cadence change; its opening and wards do not."""
    opens = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    closes = opens + timedelta(days=14)
    with app.app_context():
        catalogue = db.session.scalars(sa.select(Catalogue)).one()
        round_id = factories.round_(catalogue, opens_at=opens, closes_at=closes).id
        db.session.commit()
    url = f"/admin/rounds/{round_id}/edit"
    assert 'value="7,3,1"' in client.get(url).get_data(as_text=True)
    refused = client.post(url, data=form(opens + timedelta(hours=1), closes, wards=["幸区"]))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "受付が始まった調査の受付開始の日時は変えられません。" in page
    assert "受付が始まった調査の基準（カタログ）と区は変えられません。" in page
    later = closes + timedelta(days=7)
    saved = client.post(url, data=form(opens, later, reminder_days="5,2"))
    assert saved.status_code == 302
    with app.app_context():
        round_ = db.session.get_one(Round, round_id)
        assert (round_.closes_at, round_.reminder_days) == (later, "5,2")
        assert round_.opens_at == opens


def test_ledger_page_is_paginated_with_counts_per_state(app, client, admin):
    """120 messages: 50 a page, the counts of each state, a state filter, skip reasons; the
    pager links the next and the previous page, keeping the filter."""
    with app.app_context():
        catalogue = db.session.scalars(sa.select(Catalogue)).one()
        round_ = factories.round_(catalogue)
        people = [factories.person() for _ in range(120)]
        for i, person in enumerate(people):
            state = MailState.SENT if i < 100 else MailState.SKIPPED
            db.session.add(
                MailLedger(
                    round_id=round_.id,
                    person_id=person.id,
                    kind="opened",
                    state=state,
                    reason=NO_EMAIL if state is MailState.SKIPPED else None,
                    sent_at=datetime.now(UTC) if state is MailState.SENT else None,
                )
            )
        db.session.commit()
        round_id = round_.id
        last_name = people[-1].name
    first = client.get(f"/admin/rounds/{round_id}/mail").get_data(as_text=True)
    assert first.count("受付開始のお知らせ") == 50
    assert "送信済み <strong>100 通</strong>" in first
    assert "送らない <strong>20 通</strong>" in first
    assert "1 / 3 ページ" in first
    base = f"/admin/rounds/{round_id}/mail"
    assert f'<a href="{base}?page=2" rel="next">次へ</a>' in first and 'rel="prev"' not in first
    third = client.get(f"/admin/rounds/{round_id}/mail?page=3").get_data(as_text=True)
    assert third.count("受付開始のお知らせ") == 20
    assert f'<a href="{base}?page=2" rel="prev">前へ</a>' in third and 'rel="next"' not in third
    sent = client.get(f"{base}?state=sent&page=2").get_data(as_text=True)
    assert "2 / 2 ページ" in sent
    assert f'<a href="{base}?page=1&amp;state=sent" rel="prev">前へ</a>' in sent
    skipped = client.get(f"/admin/rounds/{round_id}/mail?state=skipped").get_data(as_text=True)
    assert skipped.count(NO_EMAIL) == 20 and last_name in skipped


def test_rounds_page_lists_rounds_and_the_nav_shows_admins_only(app, client, admin, sign_in):
    """Admins see the rounds and a menu link to them; staff see neither."""
    with app.app_context():
        catalogue = db.session.scalars(sa.select(Catalogue)).one()
        factories.round_(catalogue, title="冬の自己点検")
        db.session.commit()
    page = client.get("/admin/rounds").get_data(as_text=True)
    assert "冬の自己点検" in page and "受付中" in page
    assert 'href="/admin/rounds"' in client.get("/me").get_data(as_text=True)
    with app.app_context():
        staff = factories.person()
        db.session.commit()
        sign_in(staff)
    assert client.get("/admin/rounds").status_code == 403
    assert 'href="/admin/rounds"' not in client.get("/me").get_data(as_text=True)


def test_rounds_page_and_round_list_say_each_rounds_state(app, client, admin, runner):
    """The rounds page and `round list` label an upcoming, an open and a closed round by the one
    state rule (受付前 / 受付中 / 終了)."""
    now = datetime.now(UTC)
    with app.app_context():
        catalogue = db.session.scalars(sa.select(Catalogue)).one()
        times = (("未来の調査", 2, 3), ("今の調査", -1, 1), ("昔の調査", -3, -2))
        for title, opens, closes in times:
            factories.round_(catalogue, title=title, opens_at=now + timedelta(days=opens),
                             closes_at=now + timedelta(days=closes))
        db.session.commit()
    page = client.get("/admin/rounds").get_data(as_text=True)
    rows = {title: row for row in page.split("<tr>")[1:]
            for title in ("未来の調査", "今の調査", "昔の調査") if title in row}
    assert "受付前" in rows["未来の調査"] and "受付中" in rows["今の調査"]
    assert "終了" in rows["昔の調査"]
    listed = runner.invoke(args=["round", "list"]).stdout.splitlines()
    by_title = {title: line for line in listed for title in rows if title in line}
    assert "受付前" in by_title["未来の調査"] and "受付中" in by_title["今の調査"]
    assert "終了" in by_title["昔の調査"]


def test_closed_round_keeps_its_times_and_takes_a_new_title(app_ctx):
    """update_round refuses to move a closed round's close to another past time, but renames
    it."""
    from app.services.rounds.rounds import RoundError, update_round

    catalogue = factories.catalogue("test-2026", fiscal_year=2026)
    closes = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    round_ = factories.round_(catalogue, opens_at=closes - timedelta(days=10), closes_at=closes)
    with pytest.raises(RoundError) as refused:
        update_round(round_, "test-2026", ["高津区"], round_.opens_at, closes + timedelta(hours=3))
    assert refused.value.errors == [
        "締め切った調査は、題名と、受け付けを再開するための締め切りの日時（今より後）のほかは"
        "変えられません。"
    ]
    update_round(round_, "test-2026", ["高津区"], round_.opens_at, closes, title="新しい題名")
    assert (round_.title, round_.closes_at) == ("新しい題名", closes)


def test_reopening_a_closed_round_discards_its_counts(app_ctx):
    """Moving a counted round's close to a later time reopens it: its counts are deleted and
    counted_at cleared, so its results are hidden again until the new close."""

    from app.models import RoundCount, RoundHeadcount
    from app.services.results.tally import count_round
    from app.services.rounds.rounds import update_round

    catalogue = factories.catalogue("test-2026", fiscal_year=2026)
    closes = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    round_ = factories.round_(catalogue, opens_at=closes - timedelta(days=10), closes_at=closes)
    section = factories.section("区民課")
    person = factories.person(section=section, fiscal_year=2026)
    factories.response(round_, person, {"std-1": "yes"}, section=section)
    assert count_round(round_.id)
    db.session.expire_all()
    assert round_.counted_at is not None
    counted = sa.select(sa.func.count()).select_from(RoundCount)
    assert db.session.scalar(counted) == 1
    update_round(round_, "test-2026", ["高津区"], round_.opens_at, closes + timedelta(days=3))
    assert round_.counted_at is None and round_.is_open()
    assert db.session.scalar(counted) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RoundHeadcount)) == 0


# --- An admin granted for one ward --------------------------------------------------------


@pytest.fixture
def ward_admin(app, client, sign_in):
    """A signed-in admin of 高津区 only, and three future rounds: 高津区's, 幸区's (with a
    reminder to 幸区's 未回答 太郎 in its ledger) and one of both wards."""
    with app.app_context():
        takatsu, saiwai = factories.ward("高津区"), factories.ward("幸区")
        catalogue = factories.catalogue("test-2026", fiscal_year=2026)
        person = factories.person()
        person.grants.append(Grant(role=GrantRole.ADMIN, ward=takatsu))
        opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=10)
        ids = {"admin": person.id}
        for key, wards in (("own", [takatsu]), ("other", [saiwai]), ("both", [takatsu, saiwai])):
            round_ = factories.round_(
                catalogue, wards=wards, opens_at=opens, closes_at=opens + timedelta(days=20),
                title=f"{key}の調査",
            )
            ids[key] = round_.id
        waiting = factories.person(section=factories.section(ward_name="幸区"), name="未回答 太郎")
        db.session.add(MailLedger(round_id=ids["other"], person_id=waiting.id, kind="opened",
                                  state=MailState.PENDING))
        db.session.commit()
        sign_in(person)
        return ids


def _round_rows() -> list[tuple[object, ...]]:
    return [
        (r.id, r.title, r.opens_at, r.closes_at, r.reminder_days, tuple(w.name for w in r.wards))
        for r in rounds()
    ]


def test_a_ward_admin_lists_only_the_rounds_of_their_ward(client, ward_admin):
    """/admin/rounds shows 高津区's round only: not 幸区's, nor the round it shares with 幸区."""
    page = client.get("/admin/rounds").get_data(as_text=True)
    assert "ownの調査" in page
    assert "otherの調査" not in page and "bothの調査" not in page


@pytest.mark.parametrize("key", ["other", "both"])
def test_a_ward_admin_gets_404_for_another_wards_round_and_its_ledger(client, ward_admin, key):
    """Another ward's round, and a round that also covers another ward, answer 404 on the
    edit page and the send ledger: no title, no names of who has not answered."""
    round_id = ward_admin[key]
    for url in (f"/admin/rounds/{round_id}/edit", f"/admin/rounds/{round_id}/mail"):
        response = client.get(url)
        assert response.status_code == 404, url
        page = response.get_data(as_text=True)
        assert "未回答 太郎" not in page and f"{key}の調査" not in page


@pytest.mark.parametrize("key", ["other", "both"])
def test_a_ward_admin_cannot_change_another_wards_round(app, client, ward_admin, key):
    """Posting a new title and times for another ward's round is a 404 and changes nothing."""
    with app.app_context():
        before = _round_rows()
    opens = datetime.now(UTC) + timedelta(days=3)
    data = form(opens, opens + timedelta(days=5), title="書き換え", wards=["高津区"], confirm="y")
    response = client.post(f"/admin/rounds/{ward_admin[key]}/edit", data=data)
    assert response.status_code == 404
    with app.app_context():
        assert _round_rows() == before


def test_a_ward_admin_cannot_create_or_widen_a_round_to_another_ward(app, client, ward_admin):
    """The form offers 高津区 only; a round for 幸区, or 高津区's round widened to 幸区, is
    refused in plain Japanese and nothing is written."""
    page = client.get("/admin/rounds/new").get_data(as_text=True)
    assert 'value="高津区"' in page and 'value="幸区"' not in page
    with app.app_context():
        before = _round_rows()
    opens = datetime.now(UTC) + timedelta(days=3)
    for url, wards in (("/admin/rounds/new", ["幸区"]),
                       (f"/admin/rounds/{ward_admin['own']}/edit", ["高津区", "幸区"])):
        response = client.post(url, data=form(opens, opens + timedelta(days=5), wards=wards))
        assert response.status_code == 400, url
        assert "幸区の調査を管理する権限がありません。" in response.get_data(as_text=True)
    with app.app_context():
        assert _round_rows() == before


def test_a_ward_admin_manages_their_own_round(app, client, ward_admin):
    """高津区's admin edits 高津区's round and reads its ledger."""
    round_id = ward_admin["own"]
    assert client.get(f"/admin/rounds/{round_id}/mail").status_code == 200
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    response = client.post(
        f"/admin/rounds/{round_id}/edit", data=form(opens, opens + timedelta(days=5), title="新")
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get_one(Round, round_id).title == "新"


def test_a_city_admin_manages_every_round(client, admin, app):
    """An admin without a ward (the city) lists and opens a round of two wards."""
    with app.app_context():
        both = factories.round_(
            db.session.scalars(sa.select(Catalogue)).one(),
            wards=[factories.ward("高津区"), factories.ward("幸区")], title="二区の調査",
        )
        db.session.commit()
        round_id = both.id
    assert "二区の調査" in client.get("/admin/rounds").get_data(as_text=True)
    assert client.get(f"/admin/rounds/{round_id}/edit").status_code == 200


def test_the_round_services_keep_to_the_ward_scope(app_ctx):
    """list_rounds lists, and create_round / update_round accept, only wards in the scope."""
    from app.services.rounds.rounds import RoundError, create_round, list_rounds, update_round

    takatsu, saiwai = factories.ward("高津区"), factories.ward("幸区")
    catalogue = factories.catalogue("test-2026", fiscal_year=2026)
    own = factories.round_(catalogue, wards=[takatsu])
    both = factories.round_(catalogue, wards=[takatsu, saiwai])
    assert [r.id for r in list_rounds(ward_ids={takatsu.id})] == [own.id]
    assert {r.id for r in list_rounds(ward_ids=set())} == set()
    assert {r.id for r in list_rounds()} == {own.id, both.id}
    opens = datetime.now(UTC) + timedelta(days=3)
    with pytest.raises(RoundError) as refused:
        create_round("test-2026", ["幸区"], opens, opens + timedelta(days=1),
                     allowed_ward_ids={takatsu.id})
    assert refused.value.errors == ["幸区の調査を管理する権限がありません。"]
    with pytest.raises(RoundError) as refused:
        update_round(both, "test-2026", ["高津区"], both.opens_at, both.closes_at,
                     allowed_ward_ids={takatsu.id})
    assert "この調査は幸区の調査でもあるため、変えられません。" in refused.value.errors


def test_remind_now_asks_with_the_count_then_queues_and_logs(app, client, admin, sign_in):
    """GET says how many people it will reach; POST writes their pending reminders and one
    audit row; another ward's round is a 404; a closed round is refused (409)."""
    from app.models import AuditEvent, Role

    now = datetime.now(UTC)
    with app.app_context():
        section = factories.section("総務課", ward_name="高津区")
        for _ in range(2):
            factories.person(section=section, role=Role.STAFF, fiscal_year=2026)
        open_round = factories.round_(
            factories.catalogue("remind-2026", fiscal_year=2026),
            opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=10),
            fiscal_year=2026,
        )
        saiwai_round = factories.round_(
            factories.catalogue("remind-saiwai", fiscal_year=2026),
            opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=10),
            fiscal_year=2026, wards=[factories.ward("幸区")],
        )
        closed = factories.round_(
            factories.catalogue("remind-old", fiscal_year=2026),
            opens_at=now - timedelta(days=10), closes_at=now - timedelta(days=1),
            fiscal_year=2026,
        )
        takatsu_admin = factories.person()
        takatsu_admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=factories.ward().id))
        db.session.commit()
        ids = (open_round.id, saiwai_round.id, closed.id)
        sign_in(takatsu_admin)
    page = client.get(f"/admin/rounds/{ids[0]}/remind")
    assert page.status_code == 200 and "2 人に催促を送る" in page.get_data(as_text=True)
    assert client.post(f"/admin/rounds/{ids[0]}/remind").status_code == 302
    with app.app_context():
        rows = list(db.session.scalars(sa.select(MailLedger).where(MailLedger.round_id == ids[0])))
        assert len(rows) == 2 and {r.state for r in rows} == {MailState.PENDING}
        (event,) = db.session.scalars(sa.select(AuditEvent)).all()
        assert (event.action, event.target_id, event.after) == (
            "round.remind_now", str(ids[0]), '{"reminders":2}')
    assert "催促を送る相手はいません" in client.get(
        f"/admin/rounds/{ids[0]}/remind").get_data(as_text=True)
    assert client.get(f"/admin/rounds/{ids[1]}/remind").status_code == 404
    assert client.post(f"/admin/rounds/{ids[2]}/remind").status_code == 409


def test_a_round_on_another_years_catalogue_asks_for_confirmation(app, client, admin):
    """A FY2027 round on the FY2026 catalogue is not saved until the year is confirmed."""
    opens = datetime(2027, 5, 1, 9, 0, tzinfo=TOKYO)
    data = form(opens, opens + timedelta(days=14))
    response = client.post("/admin/rounds/new", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "基準の年度が違います" in page and "令和9年度" in page and "令和8年度" in page
    with app.app_context():
        assert rounds() == []
    assert client.post("/admin/rounds/new", data={**data, "confirm_year": "y"}).status_code == 302
    with app.app_context():
        (round_,) = rounds()
        assert (round_.fiscal_year, round_.catalogue.fiscal_year) == (2027, 2026)
