"""The data sets of the characterization test (tests/results/test_characterization.py).

``build_demo_fixed``: the demo (app/services/operations/demo.py) with its one open round moved to
fixed dates, because the demo opens it "now" and the goldens must not depend on the day they run.

``build_city7``: a generated 7-ward city, small and fully deterministic (one seeded
``random.Random``, explicit 職員番号, names, addresses and submission times): 2–3 sections per
ward in two departments, about 200 people with transfers between the two fiscal years, two
city-wide rounds (FY2024, FY2025, standards matched by key, one renumbered) and a second FY2025
round of one ward that closes later (the trend takes that ward's figures from it). It is built
with the ORM, so it runs on SQLite and PostgreSQL alike (bench/generate.py is PostgreSQL only).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Answer,
    AnswerValue,
    Assignment,
    Audience,
    Catalogue,
    Department,
    Grant,
    GrantRole,
    Person,
    Response,
    ResponseStatus,
    Role,
    Round,
    Section,
    SectionAnswer,
    SectionKind,
    Standard,
    Ward,
    utcnow,
)
from app.services.operations.demo import build_demo

ROOT = Path(__file__).resolve().parent.parent

WARDS = ("川崎区", "幸区", "中原区", "高津区", "宮前区", "多摩区", "麻生区")
# (name, department, kinds): the third section exists in every other ward.
SECTIONS = (
    ("区民課", "区民サービス部", ()),
    ("保険年金課", "区民サービス部", ()),
    ("総務課", "まちづくり推進部", ("庁舎管理",)),
)
# (key, scene) of the standards asked of everyone; section standards follow.
STANDARDS = (
    ("std-1", "応対"),
    ("std-2", "応対"),
    ("std-3", "電話"),
    ("std-4", "地域訪問"),
)
SECTION_STANDARDS = (("sec-24", ("庁舎管理",)), ("sec-25", ()))
OPENS = {
    2024: datetime(2024, 11, 5, 0, 0, tzinfo=UTC),
    2025: datetime(2025, 11, 4, 0, 0, tzinfo=UTC),
}
EXTRA_ROUND_OPENS = datetime(2026, 1, 13, 0, 0, tzinfo=UTC)  # 麻生区 again, in FY2025


def build_demo_fixed() -> None:
    """The demo, its open round given fixed dates (open until 2099) and a fixed title."""
    build_demo(ROOT / "surveys")
    last_year = db.session.scalar(sa.select(sa.func.max(Assignment.fiscal_year)))
    open_round = db.session.scalars(sa.select(Round).where(Round.open_at(utcnow()))).one()
    assert open_round is not None and last_year is not None
    open_round.title = "お試しの調査（日付を固定）"
    open_round.fiscal_year = last_year
    open_round.opens_at = datetime(last_year, 6, 1, 0, 0, tzinfo=UTC)
    open_round.closes_at = datetime(2099, 12, 25, 8, 15, tzinfo=UTC)
    _committee(list(db.session.scalars(sa.select(Ward).order_by(Ward.id))))
    db.session.commit()


def _catalogue(fiscal_year: int) -> Catalogue:
    catalogue = Catalogue(
        key=f"c7-{fiscal_year}", title=f"7区の基準 {fiscal_year}", fiscal_year=fiscal_year
    )
    for position, (key, scene) in enumerate(STANDARDS, start=1):
        # std-3 was No.5 in FY2024: a renumbered standard keeps its history by key.
        number = 5 if (key == "std-3" and fiscal_year == 2024) else position
        catalogue.standards.append(
            Standard(key=key, number=number, position=position, text=f"{key} の文 {fiscal_year}",
                     scene=scene, audience=Audience.EVERYONE)
        )
    for offset, (key, kinds) in enumerate(SECTION_STANDARDS):
        number = 24 + offset
        catalogue.standards.append(
            Standard(key=key, number=number, position=number, text=f"{key} の文",
                     scene="庁内体制", audience=Audience.SECTION,
                     section_kinds=[_kind(k) for k in kinds])
        )
    db.session.add(catalogue)
    return catalogue


def _kind(name: str) -> SectionKind:
    found = db.session.scalar(sa.select(SectionKind).where(SectionKind.name == name))
    if found is None:
        found = SectionKind(name=name)
        db.session.add(found)
        db.session.flush()
    return found


def _organisation() -> tuple[list[Ward], list[Section]]:
    wards, sections = [], []
    for w, ward_name in enumerate(WARDS):
        ward = Ward(name=ward_name, sort_order=w)
        db.session.add(ward)
        departments: dict[str, Department] = {}
        for s, (name, department, kinds) in enumerate(SECTIONS):
            if s == 2 and w % 2 == 1:
                continue
            if department not in departments:
                departments[department] = Department(ward=ward, name=department,
                                                     sort_order=len(departments))
                db.session.add(departments[department])
            section_kinds = [_kind(k) for k in kinds]
            section = Section(ward=ward, department=departments[department], name=name,
                              sort_order=s, kinds=section_kinds)
            db.session.add(section)
            sections.append(section)
        wards.append(ward)
    db.session.flush()
    return wards, sections


def _rosters(rng: random.Random, sections: list[Section]) -> dict[int, dict[int, tuple[int, Role]]]:
    """Per fiscal year: person id -> (section id, role). One chief per section (some sections
    of 4 staff or fewer, to be hidden); each April about one in ten staff moves section."""
    people: list[tuple[Person, int, Role]] = []
    n = 0
    for section in sections:
        size = rng.choice((3, 4, 6, 8, 10, 12, 14))
        for i in range(size + 1):
            n += 1
            person = Person(employee_id=f"C7{n:05d}", name=f"七区 職員{n}",
                            email=f"c7-{n}@example.jp")
            people.append((person, section.id, Role.CHIEF if i == 0 else Role.STAFF))
    db.session.add_all([p for p, _s, _r in people])
    db.session.flush()
    rosters: dict[int, dict[int, tuple[int, Role]]] = {2024: {}, 2025: {}}
    for person, section_id, role in people:
        rosters[2024][person.id] = (section_id, role)
        if role is Role.STAFF and rng.random() < 0.1:
            section_id = rng.choice(sections).id
        rosters[2025][person.id] = (section_id, role)
    for year, roster in rosters.items():
        db.session.add_all(
            Assignment(person_id=pid, fiscal_year=year, section_id=sid, role=role)
            for pid, (sid, role) in roster.items()
        )
    db.session.flush()
    return rosters


def _value(rng: random.Random, scene: str) -> AnswerValue:
    x = rng.random()
    if scene == "地域訪問":
        return AnswerValue.YES if x < 0.4 else AnswerValue.NO if x < 0.45 else AnswerValue.NA
    return AnswerValue.YES if x < 0.85 else AnswerValue.NO if x < 0.95 else AnswerValue.NA


def _answers(
    rng: random.Random, round_: Round, roster: dict[int, tuple[int, Role]], ward_ids: set[int],
    sections: dict[int, Section],
) -> None:
    """Most people submit (at a seeded time in the round), a few leave a draft or nothing."""
    standards = sorted(round_.catalogue.standards, key=lambda s: s.position)
    span = (round_.closes_at - round_.opens_at).total_seconds()
    for person_id, (section_id, role) in sorted(roster.items()):
        section = sections[section_id]
        if section.ward_id not in ward_ids:
            continue
        x = rng.random()
        if x >= 0.95:
            continue
        submitted = x < 0.88
        response = Response(
            round_id=round_.id, person_id=person_id, role=role, section_id=section_id,
            status=ResponseStatus.SUBMITTED if submitted else ResponseStatus.DRAFT,
            submitted_at=(round_.opens_at + timedelta(seconds=int(rng.random() * span)))
            if submitted else None,
        )
        db.session.add(response)
        db.session.flush()
        kinds = {k.id for k in section.kinds}
        for standard in standards:
            value = _value(rng, standard.scene)
            if standard.audience is Audience.EVERYONE:
                db.session.add(Answer(response_id=response.id, standard_id=standard.id,
                                      value=value))
            elif role is Role.CHIEF and (
                not standard.section_kinds or kinds & {k.id for k in standard.section_kinds}
            ):
                db.session.add(SectionAnswer(round_id=round_.id, section_id=section_id,
                                             standard_id=standard.id, response_id=response.id,
                                             value=value))
    db.session.flush()


def _committee(wards: list[Ward]) -> None:
    """A city-wide committee member and one per ward (they read results, get closing mail)."""
    city = Person(employee_id="K000000", name="市の委員", email="k0@example.jp")
    city.grants.append(Grant(role=GrantRole.COMMITTEE))
    db.session.add(city)
    for n, ward in enumerate(wards, start=1):
        member = Person(employee_id=f"K{n:06d}", name=f"{ward.name}の委員",
                        email=f"k{n}@example.jp")
        member.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=ward.id))
        db.session.add(member)
    db.session.flush()


def build_city7() -> None:
    """The generated 7-ward data set (see the module docstring); commits."""
    rng = random.Random(20261130)  # noqa: S311 - test data, not security
    wards, sections = _organisation()
    by_id = {s.id: s for s in sections}
    rosters = _rosters(rng, sections)
    catalogues = {year: _catalogue(year) for year in (2024, 2025)}
    db.session.flush()
    every = {w.id for w in wards}
    for year in (2024, 2025):
        round_ = Round(title=f"{year}年度 7区の点検", catalogue=catalogues[year], fiscal_year=year,
                       opens_at=OPENS[year], closes_at=OPENS[year] + timedelta(days=24, hours=8),
                       wards=wards)
        db.session.add(round_)
        db.session.flush()
        _answers(rng, round_, rosters[year], every, by_id)
    asao = wards[-1]
    extra = Round(title="2025年度 麻生区の再点検", catalogue=catalogues[2025], fiscal_year=2025,
                  opens_at=EXTRA_ROUND_OPENS, closes_at=EXTRA_ROUND_OPENS + timedelta(days=17),
                  wards=[asao])
    db.session.add(extra)
    db.session.flush()
    _answers(rng, extra, rosters[2025], {asao.id}, by_id)
    _committee(wards)
    db.session.commit()
