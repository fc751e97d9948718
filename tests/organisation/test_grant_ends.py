"""Grants that end: the end date set from the CLI and the person page, ended grants stop
(``grants.in_force_clause``: sign-in roles, ward scope, results), the people page lists what
each person holds and what ends soon, and April's review banner
(app/services/organisation/grants.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import render_template

from app.access import roles_of, ward_scope
from app.extensions import db
from app.models import AuditEvent, Grant, GrantRole, Person, Role, utcnow
from app.services.organisation.grants import ENDING_SOON_DAYS, grant_review_due
from app.wareki import TOKYO, fiscal_year_of, tokyo, tokyo_date
from tests import factories

YEAR = fiscal_year_of(tokyo(datetime.now(UTC)))


def today() -> date:
    return tokyo_date(utcnow())


@pytest.fixture
def world(app):
    """高津区 総務課 (a staff member), 幸区 (one person, with a 幸区 committee grant), an
    admin of 高津区, and a closed round of 高津区."""
    with app.app_context():
        somu = factories.section("総務課", ward_name="高津区")
        saiwai = factories.section("幸区民課", ward_name="幸区")
        staff = factories.person(section=somu, fiscal_year=YEAR, employee_id="100002",
                                 name="高津 太郎")
        other = factories.person(section=saiwai, fiscal_year=YEAR, employee_id="200001",
                                 name="幸 次郎")
        other.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=saiwai.ward_id))
        admin = factories.person(section=somu, fiscal_year=YEAR, employee_id="100009")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=somu.ward_id))
        catalogue = factories.catalogue("ends-cat", fiscal_year=YEAR)
        closed = factories.closed_round(catalogue, wards=[somu.ward], fiscal_year=YEAR)
        db.session.commit()
        return {"takatsu": somu.ward_id, "saiwai": saiwai.ward_id, "staff": staff.id,
                "other": other.id, "admin": admin.id, "round": closed.id}


def _as(app, sign_in, who_id):
    with app.app_context():
        sign_in(db.session.get(Person, who_id))


def _grants(app, person_id):
    with app.app_context():
        return [(g.role, g.ward_id, g.ends_on)
                for g in db.session.get_one(Person, person_id).grants]


def _audit(app):
    with app.app_context():
        return [(e.action, e.before, e.after)
                for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def _committee(app, world, ends_on):
    with app.app_context():
        person = db.session.get_one(Person, world["staff"])
        person.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=world["takatsu"],
                                   ends_on=ends_on))
        db.session.commit()


# --- Ended grants stop ------------------------------------------------------------------------


def test_a_committee_grant_that_ended_yesterday_cannot_open_results(app, client, sign_in, world):
    """Attack: a committee member whose grant ended yesterday (Tokyo) is refused the results
    list and the round's page, and has no committee role or ward scope left."""
    _committee(app, world, today() - timedelta(days=1))
    _as(app, sign_in, world["staff"])
    assert client.get("/results/").status_code == 403
    assert client.get(f"/results/rounds/{world['round']}").status_code == 403
    with app.app_context():
        person = db.session.get_one(Person, world["staff"])
        assert "committee" not in roles_of(person)
        assert ward_scope(person, "committee") == set()


def test_a_committee_grant_works_through_its_last_day(app, client, sign_in, world):
    """The end date is the last day the grant works: ending today, the results open."""
    _committee(app, world, today())
    _as(app, sign_in, world["staff"])
    assert client.get(f"/results/rounds/{world['round']}").status_code == 200
    with app.app_context():
        person = db.session.get_one(Person, world["staff"])
        assert ward_scope(person, "committee") == {world["takatsu"]}


def test_an_ended_admin_grant_closes_the_admin_pages(app, client, sign_in, world):
    """An admin whose grant ended yesterday gets 403 on the admin pages."""
    with app.app_context():
        db.session.scalars(sa.select(Grant).where(Grant.person_id == world["admin"])).one()\
            .ends_on = today() - timedelta(days=1)
        db.session.commit()
    _as(app, sign_in, world["admin"])
    assert client.get("/admin/people").status_code == 403


# --- Setting the end date: the person page ------------------------------------------------------


def test_the_person_page_grants_until_a_date_then_extends_it(app, client, sign_in, world):
    """A grant with an end date is saved and audited with it in ``after``; granting it again
    with a later date extends it (its old date in ``before``)."""
    _as(app, sign_in, world["admin"])
    url = f"/admin/people/{world['staff']}/grants"
    first, later = today() + timedelta(days=10), today() + timedelta(days=300)
    data = {"role": "committee", "ward": str(world["takatsu"]), "operation": "grant",
            "ends_on": first.isoformat()}
    assert client.post(url, data=data).status_code == 302
    assert _grants(app, world["staff"]) == [(GrantRole.COMMITTEE, world["takatsu"], first)]
    assert client.post(url, data={**data, "ends_on": later.isoformat()}).status_code == 302
    assert _grants(app, world["staff"]) == [(GrantRole.COMMITTEE, world["takatsu"], later)]
    (_, before1, after1), (_, before2, after2) = _audit(app)
    assert before1 is None and json.loads(after1)["ends_on"] == first.isoformat()
    assert json.loads(before2)["ends_on"] == first.isoformat()
    assert json.loads(after2)["ends_on"] == later.isoformat()
    page = client.get(f"/admin/people/{world['staff']}").get_data(as_text=True)
    assert 'type="date"' in page and 'name="ends_on"' in page


@pytest.mark.parametrize("forged", ["2027/03/31", "10000-01-01", "99999-12-31", "2027-02-30",
                                    "tomorrow", "2027-03-31T00:00", "2099-W13-3", "x" * 500])
def test_a_forged_end_date_gets_a_clear_error_never_a_500(app, client, sign_in, world, forged):
    """Attack: an unreadable or impossible end date (bad format, past year 9999) is a 400 with
    the Japanese message, and nothing is written."""
    _as(app, sign_in, world["admin"])
    response = client.post(f"/admin/people/{world['staff']}/grants", data={
        "role": "committee", "ward": str(world["takatsu"]), "operation": "grant",
        "ends_on": forged})
    assert response.status_code == 400
    assert "が読めません。2027-03-31 のように「年-月-日」で書いてください。" in response.get_data(
        as_text=True)
    assert _grants(app, world["staff"]) == []
    assert _audit(app) == []


def test_a_past_end_date_is_refused(app, client, sign_in, world):
    """A grant cannot be given an end date that has already passed (revoke it instead)."""
    _as(app, sign_in, world["admin"])
    response = client.post(f"/admin/people/{world['staff']}/grants", data={
        "role": "committee", "ward": str(world["takatsu"]), "operation": "grant",
        "ends_on": (today() - timedelta(days=1)).isoformat()})
    assert response.status_code == 400
    assert "終わりの日は今日以降にしてください。" in response.get_data(as_text=True)
    assert _grants(app, world["staff"]) == []


def test_a_ward_admin_cannot_set_or_extend_a_grant_in_another_ward(app, client, sign_in, world):
    """Attack: 高津区's admin posting an end date for 幸区's grant (on a 高津区 person, or on
    the 幸区 person) is refused and the grant keeps no end date."""
    _as(app, sign_in, world["admin"])
    later = (today() + timedelta(days=30)).isoformat()
    data = {"role": "committee", "ward": str(world["saiwai"]), "operation": "grant",
            "ends_on": later}
    refused = client.post(f"/admin/people/{world['staff']}/grants", data=data)
    assert refused.status_code == 400
    assert "ほかの区の権限は変えられません。" in refused.get_data(as_text=True)
    assert client.post(f"/admin/people/{world['other']}/grants", data=data).status_code == 404
    assert _grants(app, world["other"]) == [(GrantRole.COMMITTEE, world["saiwai"], None)]
    assert _grants(app, world["staff"]) == []
    assert _audit(app) == []


# --- Setting the end date: the CLI --------------------------------------------------------------


def test_the_cli_grants_until_a_date_and_lists_it(app, runner, world):
    """``users grant ... --until`` sets the end date, audits it and list-grants shows it."""
    until = (today() + timedelta(days=60)).isoformat()
    result = runner.invoke(args=["users", "grant", "committee", "100002", "--ward", "高津",
                                 "--until", until])
    assert result.exit_code == 0, result.output
    assert f"{until} まで" in result.output
    assert _grants(app, world["staff"]) == [
        (GrantRole.COMMITTEE, world["takatsu"], date.fromisoformat(until))]
    ((action, _before, after),) = _audit(app)
    assert action == "grant.add" and json.loads(after)["ends_on"] == until
    listed = runner.invoke(args=["users", "list-grants"])
    assert f"100002\t高津 太郎\t推進委員会\t高津区\t{until} まで" in listed.output


@pytest.mark.parametrize("forged", ["2027-13-01", "10000-01-01", "31/03/2027"])
def test_the_cli_refuses_an_unreadable_end_date(app, runner, world, forged):
    """An unreadable end date exits 1 with the Japanese message, nothing written."""
    result = runner.invoke(args=["users", "grant", "committee", "100002", "--until", forged])
    assert result.exit_code == 1
    assert "が読めません" in result.output
    assert _grants(app, world["staff"]) == []


# --- The people page ----------------------------------------------------------------------------


def test_the_people_page_lists_grants_and_marks_those_ending_soon(app, client, sign_in, world):
    """Each person's grants are listed; one ending within 30 days is marked, one ending later
    is not; the holders filter leaves out people with no grant."""
    soon = today() + timedelta(days=ENDING_SOON_DAYS)
    _committee(app, world, soon)
    with app.app_context():
        admin_grant = db.session.scalars(
            sa.select(Grant).where(Grant.person_id == world["admin"])).one()
        admin_grant.ends_on = today() + timedelta(days=ENDING_SOON_DAYS + 1)
        factories.person(section=factories.section("区民課", ward_name="高津区"),
                         role=Role.CHIEF, fiscal_year=YEAR, name="権限 なし")
        db.session.commit()
    _as(app, sign_in, world["admin"])
    page = client.get("/admin/people").get_data(as_text=True)
    staff_row = page.split("高津 太郎", 1)[1].split("</tr>", 1)[0]
    assert "推進委員会（高津区）" in staff_row and "まもなく終了" in staff_row
    admin_row = page.split('100009', 1)[1].split("</tr>", 1)[0]
    assert "管理者（高津区）" in admin_row and "まもなく終了" not in admin_row
    holders = client.get("/admin/people?holders=y").get_data(as_text=True)
    assert "高津 太郎" in holders and "権限 なし" not in holders
    assert "権限 なし" in page


# --- April's review banner ----------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "due"), [
    (datetime(2027, 4, 1, 0, 0, tzinfo=TOKYO), True),
    (datetime(2027, 4, 30, 23, 59, tzinfo=TOKYO), True),
    (datetime(2027, 4, 15, 12, 0, tzinfo=UTC), True),
    (datetime(2027, 3, 31, 23, 59, tzinfo=TOKYO), False),
    (datetime(2027, 5, 1, 0, 0, tzinfo=TOKYO), False),
    (datetime(2027, 3, 31, 15, 0, tzinfo=UTC), True),   # 1 April 00:00 in Tokyo
    (datetime(2027, 4, 30, 15, 0, tzinfo=UTC), False),  # 1 May 00:00 in Tokyo
    (datetime(2027, 11, 10, 9, 0, tzinfo=TOKYO), False),
])
def test_the_grant_review_is_due_in_april_on_tokyos_clock(moment, due):
    """The review banner is due from 1 to 30 April, Tokyo time, and at no other time."""
    assert grant_review_due(moment) is due


def test_the_admin_pages_show_the_review_banner_when_due(app, client, sign_in, world):
    """The banner links to the list of grant holders; the admin pages carry it exactly when
    the review is due now."""
    with app.test_request_context("/admin/people"):
        banner = render_template("admin/_grant_review.html")
    assert "権限を見直してください" in banner and "/admin/people?holders=y" in banner
    _as(app, sign_in, world["admin"])
    page = client.get("/admin/rounds").get_data(as_text=True)
    assert ("grant-review-banner" in page) is grant_review_due(utcnow())
