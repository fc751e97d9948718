"""The admin's people pages: search, a person's page, grants within the ward, password links
shown once, and "may not sign in" (app/services/organisation/people.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Grant, GrantRole, Person, Role
from app.services.identity.auth import SignInOutcome, check_sign_in, set_password
from app.wareki import fiscal_year_of, tokyo
from tests import factories

YEAR = fiscal_year_of(tokyo(datetime.now(UTC)))


@pytest.fixture
def world(app):
    """高津区 総務課 (a chief, a staff member), 幸区 (one person), an admin of 高津区 and a
    city-wide admin."""
    with app.app_context():
        somu = factories.section("総務課", ward_name="高津区")
        saiwai = factories.section("幸区民課", ward_name="幸区")
        chief = factories.person(section=somu, role=Role.CHIEF, fiscal_year=YEAR,
                                 employee_id="100001", name="川崎 花子")
        staff = factories.person(section=somu, fiscal_year=YEAR, employee_id="100002",
                                 name="高津 太郎")
        other = factories.person(section=saiwai, fiscal_year=YEAR, employee_id="200001",
                                 name="幸 次郎")
        admin = factories.person(section=somu, fiscal_year=YEAR, employee_id="100009")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=somu.ward_id))
        city = factories.person(employee_id="900000")
        city.grants.append(Grant(role=GrantRole.ADMIN))
        db.session.commit()
        return {"takatsu": somu.ward_id, "saiwai": saiwai.ward_id, "chief": chief.id,
                "staff": staff.id, "other": other.id, "admin": admin.id, "city": city.id}


def _as(app, sign_in, world, who):
    with app.app_context():
        sign_in(db.session.get(Person, world[who]))


def _audit(app):
    with app.app_context():
        return [(e.action, e.target_id, e.ward_id, e.after)
                for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_search_finds_by_number_name_and_section_within_my_ward(app, client, sign_in, world):
    """高津区's admin finds 高津区's people by number, name or section, never 幸区's."""
    _as(app, sign_in, world, "admin")
    assert "高津 太郎" in client.get("/admin/people?q=100002").get_data(as_text=True)
    assert "川崎 花子" in client.get("/admin/people?q=花子").get_data(as_text=True)
    by_section = client.get("/admin/people?q=総務").get_data(as_text=True)
    assert "川崎 花子" in by_section and "高津 太郎" in by_section
    everyone = client.get("/admin/people").get_data(as_text=True)
    assert "幸 次郎" not in everyone
    assert "幸 次郎" not in client.get("/admin/people?q=200001").get_data(as_text=True)
    _as(app, sign_in, world, "city")
    assert "幸 次郎" in client.get("/admin/people?q=200001").get_data(as_text=True)


def test_the_person_page_shows_years_sign_in_and_grants(app, client, sign_in, world):
    """The page lists the year's section and role, the password state and the grants."""
    _as(app, sign_in, world, "admin")
    page = client.get(f"/admin/people/{world['chief']}").get_data(as_text=True)
    assert "総務課" in page and "所属長" in page and "パスワード: 未設定" in page
    assert "サインインの記録はありません" in page


def test_another_wards_person_is_a_404_and_nothing_changes(app, client, sign_in, world):
    """高津区's admin cannot see, grant to, link or block 幸区's person."""
    _as(app, sign_in, world, "admin")
    other = world["other"]
    assert client.get(f"/admin/people/{other}").status_code == 404
    assert client.post(f"/admin/people/{other}/grants", data={
        "role": "committee", "ward": str(world["takatsu"]), "operation": "grant"}
    ).status_code == 404
    assert client.post(f"/admin/people/{other}/password-link").status_code == 404
    assert client.post(f"/admin/people/{other}/sign-in", data={"blocked": "1"}).status_code == 404
    with app.app_context():
        assert db.session.get_one(Person, other).grants == []
        assert not db.session.get_one(Person, other).sign_in_blocked
    assert _audit(app) == []


def test_granting_committee_for_my_ward_is_saved_and_logged(app, client, sign_in, world):
    """Grant, then revoke: the grant row comes and goes and each writes an audit row."""
    _as(app, sign_in, world, "admin")
    url = f"/admin/people/{world['staff']}/grants"
    data = {"role": "committee", "ward": str(world["takatsu"]), "operation": "grant"}
    assert client.post(url, data=data).status_code == 302
    with app.app_context():
        (grant,) = db.session.get_one(Person, world["staff"]).grants
        assert (grant.role, grant.ward_id) == (GrantRole.COMMITTEE, world["takatsu"])
    assert client.post(url, data={**data, "operation": "revoke"}).status_code == 302
    with app.app_context():
        assert db.session.get_one(Person, world["staff"]).grants == []
    assert [(a, t, w) for a, t, w, _ in _audit(app)] == [
        ("grant.add", str(world["staff"]), world["takatsu"]),
        ("grant.revoke", str(world["staff"]), world["takatsu"]),
    ]


def test_a_ward_admin_cannot_grant_for_another_ward_or_the_city(app, client, sign_in, world):
    """Another ward's id or the city (empty ward) is refused with 400 and nothing written."""
    _as(app, sign_in, world, "admin")
    url = f"/admin/people/{world['staff']}/grants"
    for ward in (str(world["saiwai"]), ""):
        response = client.post(url, data={"role": "admin", "ward": ward, "operation": "grant"})
        assert response.status_code == 400
    with app.app_context():
        assert db.session.get_one(Person, world["staff"]).grants == []
    assert _audit(app) == []


def test_the_password_link_is_shown_once_and_logged_without_the_token(
    app, client, sign_in, world
):
    """The link appears in the POST's answer only; the audit row has no token."""
    _as(app, sign_in, world, "admin")
    response = client.post(f"/admin/people/{world['staff']}/password-link")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    start = page.index("/auth/set-password/")
    token = page[start + len("/auth/set-password/"):].split('"')[0]
    assert client.get(f"/admin/people/{world['staff']}").get_data(as_text=True).count(
        "/auth/set-password/") == 0
    client.get("/auth/logout")
    assert client.get(f"/auth/set-password/{token}").status_code == 200
    ((action, target, _, after),) = _audit(app)
    assert action == "person.password_link" and target == str(world["staff"])
    assert token not in after


def test_a_blocked_person_cannot_sign_in_by_password_or_session(app, client, sign_in, world):
    """Blocked: the right password fails, an existing session ends; allowing again works."""
    with app.app_context():
        set_password(db.session.get_one(Person, world["staff"]), "correct horse battery")
        db.session.commit()
    _as(app, sign_in, world, "admin")
    url = f"/admin/people/{world['staff']}/sign-in"
    assert client.post(url, data={"blocked": "1"}).status_code == 302
    with app.app_context():
        result = check_sign_in("100002", "correct horse battery", "127.0.0.1")
        assert result.outcome is SignInOutcome.FAILED
        db.session.rollback()
    _as(app, sign_in, world, "staff")
    assert client.get("/me").status_code == 302  # back to the sign-in page
    _as(app, sign_in, world, "admin")
    assert client.post(url, data={"blocked": "0"}).status_code == 302
    with app.app_context():
        result = check_sign_in("100002", "correct horse battery", "127.0.0.1")
        assert result.outcome is SignInOutcome.OK
    assert [a for a, *_ in _audit(app)] == ["person.sign_in_blocked", "person.sign_in_allowed"]


def test_an_admin_cannot_block_themself(app, client, sign_in, world):
    """Blocking oneself is refused (400), so a ward is never left without its admin by slip."""
    _as(app, sign_in, world, "admin")
    response = client.post(f"/admin/people/{world['admin']}/sign-in", data={"blocked": "1"})
    assert response.status_code == 400


def test_people_pages_are_for_admins_only(app, client, sign_in, world):
    """A chief gets 403 on the list and on a person's page."""
    _as(app, sign_in, world, "chief")
    assert client.get("/admin/people").status_code == 403
    assert client.get(f"/admin/people/{world['staff']}").status_code == 403
