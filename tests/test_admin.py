"""The admin's pages: create and edit rounds, and read a round's send ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Grant, GrantRole, MailLedger, MailState, Round
from app.services.schedule import NO_EMAIL
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


def form(opens: datetime, closes: datetime, **changes) -> dict:
    data = {
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
        catalogue = db.session.scalar(sa.select(factories.Catalogue))
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
        round_ = db.session.get(Round, round_id)
        assert (round_.closes_at, round_.reminder_days) == (later, "5,2")
        assert round_.opens_at == opens


def test_ledger_page_is_paginated_with_counts_per_state(app, client, admin):
    """120 messages: 50 a page, the counts of each state, a state filter, skip reasons."""
    with app.app_context():
        catalogue = db.session.scalar(sa.select(factories.Catalogue))
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
    third = client.get(f"/admin/rounds/{round_id}/mail?page=3").get_data(as_text=True)
    assert third.count("受付開始のお知らせ") == 20
    skipped = client.get(f"/admin/rounds/{round_id}/mail?state=skipped").get_data(as_text=True)
    assert skipped.count(NO_EMAIL) == 20 and last_name in skipped


def test_rounds_page_lists_rounds_and_the_nav_shows_admins_only(app, client, admin, sign_in):
    """Admins see the rounds and a menu link to them; staff see neither."""
    with app.app_context():
        catalogue = db.session.scalar(sa.select(factories.Catalogue))
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


def test_closed_round_keeps_its_times_and_takes_a_new_title(app_ctx):
    """update_round refuses to move a closed round's close to another past time, but renames
    it."""
    from app.services.rounds import RoundError, update_round

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
    from app.services.rounds import update_round
    from app.services.tally import count_round

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
