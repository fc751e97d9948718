"""The round form as a clerk meets it: every check before any confirmation, the year asked
once, a one-ward admin's ward ticked, and only the catalogues that admin may use
(app/admin/routes.py ``_save``, app/services/rounds/rounds.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Catalogue, Grant, GrantRole, Round
from app.wareki import TOKYO
from tests import factories
from tests.rounds.test_admin import form, rounds

YEAR_NOTICE = "基準の年度が違います"
AT_ONCE_NOTICE = "保存する前に確かめてください"


@pytest.fixture
def wards(app):
    """高津区 and 幸区; a city-wide catalogue of FY2026, one of 高津区 and one of 幸区."""
    with app.app_context():
        takatsu, saiwai = factories.ward("高津区"), factories.ward("幸区")
        factories.catalogue("test-2026", fiscal_year=2026)
        own = factories.catalogue("takatsu-2026", fiscal_year=2026)
        own.ward_id = takatsu.id
        other = factories.catalogue("saiwai-2026", fiscal_year=2026)
        other.ward_id = saiwai.id
        db.session.commit()
        return {"takatsu": takatsu.id, "saiwai": saiwai.id}


def _admin(app, sign_in, ward_id: int | None) -> int:
    with app.app_context():
        person = factories.person()
        person.grants.append(Grant(role=GrantRole.ADMIN, ward_id=ward_id))
        db.session.commit()
        sign_in(person)
        return person.id


def _box(page: str, ward: str) -> str:
    """The checkbox input of a ward on the round form."""
    (box,) = re.findall(rf'<input[^>]*value="{ward}"[^>]*>', page)
    return str(box)


def test_an_invalid_form_shows_its_errors_and_no_confirmation(app, client, sign_in, wards):
    """A round opening now, on another year's catalogue, whose close is before its opening:
    the page says what is wrong and asks neither the year nor the mail at once."""
    _admin(app, sign_in, None)
    opens = datetime.now(UTC) - timedelta(hours=1)  # FY2026 catalogue, a later year's round
    response = client.post("/admin/rounds/new", data=form(opens, opens - timedelta(days=1)))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "締め切りは受付開始より後にしてください。" in page
    assert YEAR_NOTICE not in page and AT_ONCE_NOTICE not in page
    with app.app_context():
        assert rounds() == []


def test_a_bad_cadence_or_title_is_reported_before_the_year(app, client, sign_in, wards):
    """Reminder days and a title on two lines are reported, not the year confirmation."""
    _admin(app, sign_in, None)
    opens = datetime(2027, 5, 1, 9, 0, tzinfo=TOKYO)
    response = client.post("/admin/rounds/new", data=form(
        opens, opens + timedelta(days=14), reminder_days="7,0", title="一行目\r\n二行目"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "お知らせを送る日「0」が読めません" in page
    assert YEAR_NOTICE not in page


def test_both_confirmations_are_asked_on_one_page_then_saved_once(app, client, sign_in, wards):
    """Opening at once on another year's catalogue asks both questions together; ticking
    both saves the round at the first try."""
    _admin(app, sign_in, None)
    with app.app_context():
        db.session.scalars(sa.select(Catalogue).where(Catalogue.key == "test-2026")).one()\
            .fiscal_year = 2020
        db.session.commit()
    opens = datetime.now(UTC) - timedelta(hours=1)
    data = form(opens, opens + timedelta(days=14))
    page = client.post("/admin/rounds/new", data=data).get_data(as_text=True)
    assert YEAR_NOTICE in page and AT_ONCE_NOTICE in page
    with app.app_context():
        assert rounds() == []
    saved = client.post("/admin/rounds/new", data={**data, "confirm": "y", "confirm_year": "y"})
    assert saved.status_code == 302
    with app.app_context():
        assert len(rounds()) == 1


def test_editing_a_round_whose_year_was_confirmed_does_not_ask_again(app, client, sign_in, wards):
    """A FY2027 round on the FY2026 catalogue, once saved, takes a new title without the
    year question; moving it onto another catalogue of another year asks again."""
    _admin(app, sign_in, None)
    opens = datetime(2027, 5, 1, 9, 0, tzinfo=TOKYO)
    data = form(opens, opens + timedelta(days=14))
    assert client.post("/admin/rounds/new", data={**data, "confirm_year": "y"}).status_code == 302
    with app.app_context():
        (round_,) = rounds()
        round_id = round_.id
        factories.catalogue("test-2025", fiscal_year=2025)
        db.session.commit()
    url = f"/admin/rounds/{round_id}/edit"
    edited = client.post(url, data={**data, "title": "新しい題名"})
    assert edited.status_code == 302, edited.get_data(as_text=True)
    with app.app_context():
        assert db.session.get_one(Round, round_id).title == "新しい題名"
    moved = client.post(url, data={**data, "catalogue": "test-2025"})
    assert moved.status_code == 200 and YEAR_NOTICE in moved.get_data(as_text=True)
    with app.app_context():
        assert db.session.get_one(Round, round_id).catalogue.key == "test-2026"


def test_a_one_ward_admin_finds_their_ward_ticked(app, client, sign_in, wards):
    """A new round of 高津区's admin starts with 高津区 ticked; a city admin's with none."""
    _admin(app, sign_in, wards["takatsu"])
    page = client.get("/admin/rounds/new").get_data(as_text=True)
    assert "checked" in _box(page, "高津区")
    _admin(app, sign_in, None)
    page = client.get("/admin/rounds/new").get_data(as_text=True)
    assert "checked" not in _box(page, "高津区")


def test_a_ward_admin_is_offered_only_their_catalogues(app, client, sign_in, wards):
    """高津区's admin is offered the city-wide and 高津区's catalogues, not 幸区's."""
    _admin(app, sign_in, wards["takatsu"])
    page = client.get("/admin/rounds/new").get_data(as_text=True)
    assert 'value="test-2026"' in page and 'value="takatsu-2026"' in page
    assert 'value="saiwai-2026"' not in page
    _admin(app, sign_in, None)
    assert 'value="saiwai-2026"' in client.get("/admin/rounds/new").get_data(as_text=True)


def test_a_forged_post_with_another_wards_catalogue_is_refused(app, client, sign_in, wards):
    """Attack: 高津区's admin posting 幸区's catalogue for 高津区 is refused with a message
    naming it, and nothing is written."""
    _admin(app, sign_in, wards["takatsu"])
    opens = datetime.now(UTC) + timedelta(days=10)
    response = client.post("/admin/rounds/new", data=form(
        opens, opens + timedelta(days=14), catalogue="saiwai-2026"))
    assert response.status_code == 400
    assert ("カタログ「saiwai-2026」は幸区の基準です。管理する区の基準か全市の基準を選んで"
            "ください。") in response.get_data(as_text=True)
    with app.app_context():
        assert rounds() == []


def test_the_round_service_refuses_another_wards_catalogue(app_ctx):
    """create_round with a ward admin's scope refuses another ward's catalogue."""
    from app.services.rounds.rounds import RoundError, create_round

    takatsu, saiwai = factories.ward("高津区"), factories.ward("幸区")
    other = factories.catalogue("saiwai-2026", fiscal_year=2026)
    other.ward_id = saiwai.id
    opens = datetime.now(UTC) + timedelta(days=3)
    with pytest.raises(RoundError) as refused:
        create_round("saiwai-2026", ["高津区"], opens, opens + timedelta(days=1),
                     allowed_ward_ids={takatsu.id})
    assert any("管理する区の基準か全市の基準" in e for e in refused.value.errors)
