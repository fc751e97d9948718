"""A person's identity belongs to no single ward's file: a ward admin's roster cannot take over
another ward's admin or a city-wide committee member, cannot rewrite the name or mail of people
it does not own, and a ward's grant stops once its holder's roster is another ward's
(app/services/organisation/roster_upload.py ``check_identity``, app/services/organisation/grants.py
``in_force_clause``)."""

from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa

from app.access import roles_of, ward_scope
from app.extensions import db
from app.models import Assignment, AuditEvent, Grant, GrantRole, Person, Role, Section, utcnow
from app.wareki import fiscal_year_of, tokyo
from tests import factories

YEAR = fiscal_year_of(tokyo(utcnow()))  # the grants' rule reads the current fiscal year
HEADER = "職員番号,氏名,メールアドレス,区,部,課,役割"
MIYAMAE = [
    HEADER,
    "200001,宮前 一子,m1@example.jp,宮前区,区民サービス部,区民課,所属長",
    "200002,宮前 二郎,m2@example.jp,宮前区,区民サービス部,区民課,職員",
]
ATTACKER_MAIL = "attacker@example.jp"


def csv_bytes(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def upload(client, lines: list[str], year: int = YEAR):
    return client.post("/admin/roster", data={
        "fiscal_year": str(year), "roster": (io.BytesIO(csv_bytes(lines)), "roster.csv")},
        content_type="multipart/form-data")


def confirm(client, page: str):
    fields = dict(re.findall(
        r'name="(sha256|suffix|fiscal_year|summary_digest)"[^>]*value="([^"]*)"', page))
    if 'name="acknowledged"' in page:  # the preview warned: 「確認しました」
        fields["acknowledged"] = "y"
    return client.post("/admin/roster/confirm", data=fields)


@pytest.fixture
def city(app, sign_in, tmp_path):
    """高津区 with its admin and a city-wide committee member on last year's roster, a staff
    member of 高津区 (last year), and 宮前区 with its admin (this year's roster), signed in."""
    app.config["ROSTER_UPLOAD_DIR"] = str(tmp_path / "uploads")
    with app.app_context():
        takatsu = factories.section("総務課", ward_name="高津区", department="まちづくり推進部")
        miyamae = factories.section("区民課", ward_name="宮前区", department="区民サービス部")
        takatsu_admin = factories.person(section=takatsu, fiscal_year=YEAR - 1,
                                         employee_id="100009", name="高津 管理")
        takatsu_admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=takatsu.ward_id))
        city_member = factories.person(section=takatsu, fiscal_year=YEAR - 1,
                                       employee_id="100008", name="全市 委員")
        city_member.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=None))
        staff = factories.person(section=takatsu, fiscal_year=YEAR - 1,
                                 employee_id="100007", name="高津 職員")
        attacker = factories.person(section=miyamae, fiscal_year=YEAR, employee_id="200009",
                                    name="宮前 管理")
        attacker.grants.append(Grant(role=GrantRole.ADMIN, ward_id=miyamae.ward_id))
        db.session.commit()
        sign_in(attacker)
        return {
            "takatsu_admin": takatsu_admin.id, "city_member": city_member.id,
            "staff": staff.id, "attacker": attacker.id,
            "takatsu": takatsu.ward_id, "miyamae": miyamae.ward_id,
        }


def person(app, person_id: int) -> tuple[str, str | None, list[int]]:
    with app.app_context():
        found = db.session.get(Person, person_id)
        assert found is not None
        wards = list(db.session.scalars(
            sa.select(Section.ward_id).join(Assignment, Assignment.section_id == Section.id)
            .where(Assignment.person_id == person_id, Assignment.fiscal_year == YEAR)))
        return found.name, found.email, wards


@pytest.mark.parametrize("victim", ["takatsu_admin", "city_member"])
def test_a_ward_roster_cannot_take_another_wards_admin_or_a_city_member(app, client, city,
                                                                          victim):
    """The attack of the issue: 宮前区's admin uploads 宮前区's roster plus one row with the
    victim's 職員番号 and the attacker's mail; the preview refuses the line, and nothing of the
    victim changes."""
    employee_id = "100009" if victim == "takatsu_admin" else "100008"
    before = person(app, city[victim])
    response = upload(client, [*MIYAMAE,
                               f"{employee_id},乗っ取り,{ATTACKER_MAIL},宮前区,区民サービス部,区民課,職員"])
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "4行目" in page and employee_id in page
    assert "全市の管理者が取り込みます" in page
    assert person(app, city[victim]) == before


def test_a_transfer_from_another_ward_moves_the_person_but_keeps_their_name_and_mail(
        app, client, city):
    """An April transfer is allowed; the preview names it and who confirms it; the stored
    name and mail stay; the former ward's admins get an audit row."""
    response = upload(client, [*MIYAMAE,
                               f"100007,別名,{ATTACKER_MAIL},宮前区,区民サービス部,区民課,職員"])
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ほかの区からの異動" in page and "高津区" in page and "宮前 管理" in page
    assert "氏名とメールアドレスを変えない人" in page
    assert confirm(client, page).status_code == 302
    name, email, wards = person(app, city["staff"])
    assert (name, wards) == ("高津 職員", [city["miyamae"]])
    assert email != ATTACKER_MAIL
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "roster.transfer_out")).all()
        assert [(r.ward_id, json.loads(r.after or "{}")["employee_ids"]) for r in rows] == [
            (city["takatsu"], ["100007"])]


def test_a_person_on_another_wards_roster_this_year_is_refused(app, client, city):
    """Someone 高津区's roster already places this year cannot be taken by 宮前区's."""
    with app.app_context():
        takatsu = db.session.scalar(sa.select(Section).where(Section.ward_id == city["takatsu"]))
        assert takatsu is not None
        db.session.add(Assignment(person_id=city["staff"], fiscal_year=YEAR,
                                  section_id=takatsu.id, role=Role.STAFF))
        db.session.commit()
    response = upload(client, [*MIYAMAE, "100007,高津 職員,,宮前区,区民サービス部,区民課,職員"])
    assert response.status_code == 400
    assert "同じ年度の高津区の名簿に載っています" in response.get_data(as_text=True)
    assert person(app, city["staff"])[2] == [city["takatsu"]]


def test_a_ward_roster_keeps_the_name_and_mail_of_its_own_grant_holders(app, client, city):
    """A grant holder's identity is not rewritten by a roster, even one of their own ward."""
    with app.app_context():
        attacker = db.session.get(Person, city["attacker"])
        assert attacker is not None
        before = (attacker.name, attacker.email)
    response = upload(client, [*MIYAMAE,
                               f"200009,別の名前,{ATTACKER_MAIL},宮前区,区民サービス部,区民課,職員"])
    assert response.status_code == 200
    assert confirm(client, response.get_data(as_text=True)).status_code == 302
    name, email, _ = person(app, city["attacker"])
    assert (name, email) == before


def test_no_password_link_or_sign_in_block_for_someone_holding_authority_elsewhere(
        app, client, city):
    """A person in 宮前区 who holds a city-wide grant: 宮前区's admin can neither issue them a
    password link nor block their sign-in."""
    with app.app_context():
        miyamae = db.session.scalar(sa.select(Section).where(Section.ward_id == city["miyamae"]))
        assert miyamae is not None
        member = factories.person(section=miyamae, fiscal_year=YEAR, employee_id="200005")
        member.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=None))
        db.session.commit()
        member_id = member.id
    link = client.post(f"/admin/people/{member_id}/password-link")
    assert link.status_code == 403
    assert "/auth/set-password/" not in link.get_data(as_text=True)
    block = client.post(f"/admin/people/{member_id}/sign-in", data={"blocked": "1"})
    assert block.status_code == 400
    with app.app_context():
        stored = db.session.get(Person, member_id)
        assert stored is not None and not stored.sign_in_blocked
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.action.in_(["person.password_link", "person.sign_in_blocked"]))) == 0


def test_a_ward_grant_stops_when_the_holders_roster_is_another_wards(app, client, city, sign_in):
    """高津区's admin keeps the grant through April; once this year's roster places them in
    宮前区, the grant no longer works, and the person's page says so."""
    with app.app_context():
        holder = db.session.get(Person, city["takatsu_admin"])
        assert holder is not None
        assert ward_scope(holder, "admin") == {city["takatsu"]}
        assert "admin" in roles_of(holder)
        miyamae = db.session.scalar(sa.select(Section).where(Section.ward_id == city["miyamae"]))
        assert miyamae is not None
        db.session.add(Assignment(person_id=holder.id, fiscal_year=YEAR,
                                  section_id=miyamae.id, role=Role.STAFF))
        db.session.commit()
        assert ward_scope(holder, "admin") == set()
        assert "admin" not in roles_of(holder)
        city_member = db.session.get(Person, city["city_member"])
        assert city_member is not None and ward_scope(city_member, "committee") is None
    sign_in(city["takatsu_admin"])
    assert client.get("/admin/rounds").status_code == 403
    sign_in(city["attacker"])
    page = client.get(f"/admin/people/{city['takatsu_admin']}").get_data(as_text=True)
    assert "今は効力がありません" in page
