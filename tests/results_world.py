"""A small two-ward round whose every figure below is worked out by hand, shared by the tests
of the committee's pages and API (tests/results/test_results_pages.py,
tests/results/test_results_api.py).

MIN_GROUP_SIZE is the default 5. Round "令和7年度 点検" (FY2025, 高津区 and 宮前区), catalogue
t-2025: std-1 (No.1), std-2 (No.2), sec-24 (No.24, the chief for the section).

高津区 staff (submitted):
  区民課 (区民サービス部)     std-1: y y y y y n   std-2: y y y y na na   (+1 staff never answered)
  保険年金課 (区民サービス部) std-1: y y y n n     std-2: y y y y y
  総務課 (まちづくり推進部)   std-1: y y y n       std-2: y n n n         (4 people: hidden)
  -> 高津区 staff std-1: 11 yes / 4 no -> 73.3;  std-2: 10 yes / 3 no (2 na) -> 76.9
  -> 総務課 alone would be 75.0 and 25.0: these numbers must appear nowhere.
高津区 chiefs, one per section: std-1 y n y, std-2 y y y, sec-24 y n y
  -> 3 chiefs: their own standards are hidden (＊); sec-24 is a section statement: 66.7
宮前区: 宮前区民課, 5 staff all yes on std-1 and std-2 (100.0), no chief.
Response rates in 高津区: staff 15 of 16 -> 93.8; chiefs 3 of 3 (hidden, fewer than 5).

Last year, FY2024 round for 高津区 only, catalogue t-2024 where std-2 was No.5 with another
wording: 区民課 5 staff std-1: y y y y n -> 80.0; std-2: y y y y y -> 100.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Grant, GrantRole, Role, Ward
from tests import factories

OPENS = datetime(2025, 11, 4, 0, 0, tzinfo=UTC)
OLD_TEXT = "基準2の前年度の文"


@dataclass(frozen=True)
class World:
    round_id: int
    previous_round_id: int
    miyamae_round_id: int
    takatsu_ward_id: int
    miyamae_ward_id: int
    soumu_section_id: int
    miyamae_section_id: int
    city_committee: int
    takatsu_committee: int
    admin: int
    staff: int
    chief: int


def _answer(round_, section, values_list, role=Role.STAFF, fiscal_year=2025):
    people = []
    for values in values_list:
        person = factories.person(section=section, role=role, fiscal_year=fiscal_year)
        if values is not None:
            factories.response(round_, person, values, section=section, role=role)
        people.append(person)
    return people


VALUES = {"y": "yes", "n": "no", "na": "na"}


def _staff(std1: str, std2: str) -> list[dict[str, str]]:
    return [
        {"std-1": VALUES[a], "std-2": VALUES[b]}
        for a, b in zip(std1.split(), std2.split(), strict=True)
    ]


def build_world() -> World:
    catalogue = factories.catalogue("t-2025", fiscal_year=2025, standards=2)
    factories.section_standards(catalogue, (24, ()))
    old = factories.catalogue("t-2024", fiscal_year=2024, standards=2)
    std2_old = next(s for s in old.standards if s.key == "std-2")
    std2_old.number, std2_old.text = 5, OLD_TEXT

    kumin = factories.section("区民課")
    hoken = factories.section("保険年金課")
    soumu = factories.section("総務課", department="まちづくり推進部")
    miyamae = factories.section("宮前区民課", ward_name="宮前区")
    takatsu_ward, miyamae_ward = kumin.ward, miyamae.ward

    round_ = factories.round_(
        catalogue,
        title="令和7年度 点検",
        wards=[takatsu_ward, miyamae_ward],
        opens_at=OPENS,
        closes_at=OPENS + timedelta(days=20),
    )
    staff = _answer(round_, kumin, _staff("y y y y y n", "y y y y na na"))
    _answer(round_, kumin, [None])  # on the roster, never answered
    _answer(round_, hoken, _staff("y y y n n", "y y y y y"))
    _answer(round_, soumu, _staff("y y y n", "y n n n"))
    chiefs = []
    chief_answers = (("y", "y"), ("n", "n"), ("y", "y"))  # (std-1, sec-24)
    for section, (own, sec) in zip((kumin, hoken, soumu), chief_answers, strict=True):
        values = {"std-1": VALUES[own], "std-2": "yes", "sec-24": VALUES[sec]}
        chiefs += _answer(round_, section, [values], role=Role.CHIEF)
    _answer(round_, miyamae, _staff("y y y y y", "y y y y y"))

    previous = factories.round_(
        old,
        title="令和6年度 点検",
        wards=[takatsu_ward],
        opens_at=OPENS - timedelta(days=365),
        closes_at=OPENS - timedelta(days=345),
    )
    _answer(previous, kumin, _staff("y y y y n", "y y y y y"), fiscal_year=2024)

    miyamae_round = factories.round_(
        catalogue,
        title="宮前区だけの点検",
        wards=[miyamae_ward],
        opens_at=OPENS,
        closes_at=OPENS + timedelta(days=20),
    )

    city = factories.person(name="市の委員")
    city.grants.append(Grant(role=GrantRole.COMMITTEE))
    takatsu = factories.person(name="高津の委員")
    takatsu.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=takatsu_ward.id))
    admin = factories.person(name="管理者")
    admin.grants.append(Grant(role=GrantRole.ADMIN))
    db.session.commit()
    return World(
        round_id=round_.id,
        previous_round_id=previous.id,
        miyamae_round_id=miyamae_round.id,
        takatsu_ward_id=takatsu_ward.id,
        miyamae_ward_id=miyamae_ward.id,
        soumu_section_id=soumu.id,
        miyamae_section_id=miyamae.id,
        city_committee=city.id,
        takatsu_committee=takatsu.id,
        admin=admin.id,
        staff=staff[0].id,
        chief=chiefs[0].id,
    )



# --- Next April's reorganisation, and everything the committee can fetch ---------------------


def reorganise_next_year() -> None:
    """Next year's roster (FY2026) for both wards, imported as an admin would, then what an
    admin could change by hand: 総務課 moves from まちづくり推進部 to 区民サービス部, 区民課's
    people move to a renamed 区民窓口課, 宮前区民課 moves to a new department, a new section in
    a new department comes first; then 保険年金課 is renamed 保険課, まちづくり推進部 is renamed
    地域振興部, 宮前区 is renamed 宮前, and every order is reversed. The caller commits."""
    from app.models import Assignment, Department, Person, Section
    from app.services.organisation.roster import import_roster
    from app.services.organisation.roster_file import RosterRow

    moves = {
        "区民課": ("区民サービス部", "区民窓口課"),
        "保険年金課": ("区民サービス部", "保険年金課"),
        "総務課": ("区民サービス部", "総務課"),
        "宮前区民課": ("宮前区民サービス部", "宮前区民課"),
    }
    rows = [
        RosterRow(2, "N000001", "新任 一郎", None, "高津区", "地域みまもり支援センター",
                  "地域支援課", Role.CHIEF, ())
    ]
    people = db.session.execute(
        sa.select(Person.employee_id, Person.name, Section.name, Section.ward_id, Assignment.role)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Section, Section.id == Assignment.section_id)
        .where(Assignment.fiscal_year == 2025)
        .order_by(Person.id)
    ).all()
    wards = {w.id: w.name for w in db.session.scalars(sa.select(Ward))}
    for line, (employee_id, name, section, ward_id, role) in enumerate(people, start=3):
        department, new_name = moves[section]
        rows.append(RosterRow(line, employee_id, name, None, wards[ward_id], department,
                              new_name, Role(role), ()))
    import_roster(rows, 2026)
    db.session.scalars(sa.select(Section).where(Section.name == "保険年金課")).one().name = "保険課"
    db.session.scalars(
        sa.select(Department).where(Department.name == "まちづくり推進部")
    ).one().name = "地域振興部"
    db.session.scalars(sa.select(Ward).where(Ward.name == "宮前区")).one().name = "宮前"
    for ward_row in db.session.scalars(sa.select(Ward)):
        ward_row.sort_order = 100 - ward_row.sort_order - ward_row.id
    for department_row in db.session.scalars(sa.select(Department)):
        department_row.sort_order = 100 - department_row.sort_order
    for section_row in db.session.scalars(sa.select(Section)):
        section_row.sort_order = 100 - section_row.sort_order


def everything_fetched(client, sign_in, world: World) -> dict[str, bytes]:
    """Every page and file of the world's closed rounds that the city's committee member can
    reach (and the section sheets), by address: each group's page, table files, comments and
    API reply, every breakdown, each section's sheet, the actions, the city page and file and
    the annual report. Workbooks as their unzipped parts, without their write times. Of the
    annual report, its compliance chapter (its goals are the sections' of today, not the
    round's); of the actions page, all but its form's choice of who takes on a new action
    (the people of today's roster)."""
    import io
    import re
    import zipfile

    from app.services.results.compliance import round_results

    sign_in(world.city_committee)
    round_id = world.round_id
    base = f"/results/rounds/{round_id}"
    groups = [g.key for g in round_results(round_id).groups]
    db.session.commit()
    urls = [f"/results/city?role={role}" for role in ("staff", "chief")]
    urls += [f"{base}/actions", f"/annual-report/{world.takatsu_ward_id}/2025", "/results/"]
    urls += [f"{base}/breakdown?level={level}&role={role}"
             for level in ("ward", "department", "section") for role in ("staff", "chief")]
    for key in groups:
        urls += [f"{base}?group={key}", f"/api/v1/rounds/{round_id}/compliance?group={key}",
                 f"{base}/comments?group={key}"]
        urls += [f"{base}/export/{fmt}?group={key}" for fmt in ("csv", "csv-long", "html")]
        if key.startswith("section:"):
            section = key.split(":")[1]
            urls += [f"{base}/sections/{section}", f"{base}/sections/{section}/export/csv"]
    books = [f"{base}/export/xlsx", f"{base}/comments.xlsx", "/results/city.xlsx"]
    fetched: dict[str, bytes] = {}
    for url in urls + books:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data()
        if url in books:
            with zipfile.ZipFile(io.BytesIO(body)) as book:
                times = rb"<dcterms:(created|modified)[^<]*"
                body = b"".join(
                    name.encode() + re.sub(times, b"", book.read(name))
                    for name in sorted(book.namelist())
                )
        body = re.sub(rb'name="csrf_token"[^>]*value="[^"]*"', b"", body)  # signed with a time
        if url.startswith("/annual-report/"):
            body = body.split(b'id="report-compliance"')[1].split(b'id="report-committee"')[0]
        if url.endswith("/actions"):
            body = re.sub(rb'<select[^>]* id="owner".*?</select>', b"", body, flags=re.S)
        fetched[url] = body
    return fetched
