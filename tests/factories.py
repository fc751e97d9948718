"""Small factories for tests: each adds rows to the session and flushes, never commits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Answer,
    AnswerValue,
    Assignment,
    Audience,
    Catalogue,
    Department,
    Person,
    Response,
    ResponseStatus,
    Role,
    Round,
    Section,
    SectionAnswer,
    SectionKind,
    ServiceGoal,
    Standard,
    Ward,
    WorkingTeam,
)

_seq = itertools.count(1)


def ward(name: str = "高津区") -> Ward:
    found = db.session.scalar(sa.select(Ward).where(Ward.name == name))
    if found:
        return found
    w = Ward(name=name)
    db.session.add(w)
    db.session.flush()
    return w


def section_kind(name: str) -> SectionKind:
    found = db.session.scalar(sa.select(SectionKind).where(SectionKind.name == name))
    if found:
        return found
    k = SectionKind(name=name)
    db.session.add(k)
    db.session.flush()
    return k


def section(
    name: str | None = None,
    *,
    ward_name: str = "高津区",
    department: str | None = "区民サービス部",
    kinds: tuple[str, ...] = (),
) -> Section:
    w = ward(ward_name)
    dept = None
    if department:
        dept = db.session.scalar(
            sa.select(Department).where(Department.ward_id == w.id, Department.name == department)
        )
        if dept is None:
            dept = Department(ward=w, name=department)
            db.session.add(dept)
    s = Section(
        ward=w,
        department=dept,
        name=name or f"テスト課{next(_seq)}",
        kinds=[section_kind(k) for k in kinds],
    )
    db.session.add(s)
    db.session.flush()
    return s


def person(
    *,
    section: Section | None = None,
    role: Role = Role.STAFF,
    fiscal_year: int = 2025,
    employee_id: str | None = None,
    name: str | None = None,
) -> Person:
    n = next(_seq)
    p = Person(
        employee_id=employee_id or f"T{n:06d}",
        name=name or f"職員 {n}",
        email=f"t{n}@example.jp",
    )
    db.session.add(p)
    db.session.flush()
    if section is not None:
        db.session.add(
            Assignment(person=p, fiscal_year=fiscal_year, section_id=section.id, role=role)
        )
        db.session.flush()
    return p


def catalogue(key: str = "test-2025", *, fiscal_year: int = 2025, standards: int = 3) -> Catalogue:
    c = Catalogue(key=key, title=f"テスト基準 {key}", fiscal_year=fiscal_year)
    for i in range(1, standards + 1):
        c.standards.append(
            Standard(
                key=f"std-{i}",
                number=i,
                position=i,
                text=f"基準{i}の文",
                scene="応対",
                audience=Audience.EVERYONE,
            )
        )
    db.session.add(c)
    db.session.flush()
    return c


def round_(
    catalogue_: Catalogue,
    *,
    wards: list[Ward] | None = None,
    fiscal_year: int | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    title: str = "テスト調査",
) -> Round:
    """A round of the catalogue, open now (from yesterday to tomorrow) unless times are given,
    in the given wards (default 高津区), for the catalogue's fiscal year unless given."""
    now = datetime.now(UTC)
    r = Round(
        title=title,
        catalogue=catalogue_,
        fiscal_year=fiscal_year if fiscal_year is not None else catalogue_.fiscal_year,
        opens_at=opens_at or now - timedelta(days=1),
        closes_at=closes_at or now + timedelta(days=1),
        wards=wards if wards is not None else [ward()],
    )
    db.session.add(r)
    db.session.flush()
    return r


def closed_round(
    catalogue_: Catalogue,
    *,
    wards: list[Ward] | None = None,
    fiscal_year: int | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    title: str = "テスト調査",
) -> Round:
    """A round like ``round_`` that closed yesterday (its results can be read)."""
    now = datetime.now(UTC)
    return round_(
        catalogue_,
        wards=wards,
        fiscal_year=fiscal_year,
        opens_at=opens_at or now - timedelta(days=10),
        closes_at=closes_at or now - timedelta(days=1),
        title=title,
    )


def section_standards(catalogue_: Catalogue, *numbers_kinds: tuple[int, tuple[str, ...]]) -> None:
    """Add ``section`` standards to a catalogue: (number, kinds) pairs, keys ``sec-<number>``."""
    for number, kinds in numbers_kinds:
        catalogue_.standards.append(
            Standard(
                key=f"sec-{number}",
                number=number,
                position=number,
                text=f"課の基準{number}の文",
                scene="庁内体制",
                audience=Audience.SECTION,
                section_kinds=[section_kind(k) for k in kinds],
            )
        )
    db.session.flush()


def response(
    round_: Round,
    person_: Person,
    values: dict[str, str],
    *,
    section: Section,
    role: Role = Role.STAFF,
    submitted: bool = True,
    submitted_at: datetime | None = None,
    comments: dict[str, str] | None = None,
) -> Response:
    """A response with answers by standard key (``yes``/``no``/``na``) and optional comments
    by key; a chief's answers to the catalogue's ``section`` standards are stored as the
    section's answers."""
    standards = {s.key: s for s in round_.catalogue.standards}
    r = Response(
        round_id=round_.id,
        person_id=person_.id,
        role=role,
        section_id=section.id,
        status=ResponseStatus.SUBMITTED if submitted else ResponseStatus.DRAFT,
        submitted_at=(submitted_at or datetime.now(UTC)) if submitted else None,
    )
    db.session.add(r)
    db.session.flush()
    for key, value in values.items():
        standard = standards[key]
        if standard.audience is Audience.SECTION:
            db.session.add(
                SectionAnswer(
                    round_id=round_.id,
                    section_id=section.id,
                    standard_id=standard.id,
                    response_id=r.id,
                    value=AnswerValue(value),
                    comment=(comments or {}).get(key),
                )
            )
        else:
            db.session.add(
                Answer(
                    response_id=r.id,
                    standard_id=standard.id,
                    value=AnswerValue(value),
                    comment=(comments or {}).get(key),
                )
            )
    db.session.flush()
    return r


def working_team(
    ward_: Ward | None = None,
    *,
    fiscal_year: int = 2025,
    name: str | None = None,
    members: list[Person] | None = None,
) -> WorkingTeam:
    """A working team of the ward (default 高津区) for the year."""
    t = WorkingTeam(
        ward=ward_ or ward(),
        fiscal_year=fiscal_year,
        name=name or f"テストワーキングチーム{next(_seq)}",
        purpose="テストの目的",
        members=members or [],
    )
    db.session.add(t)
    db.session.flush()
    return t


def service_goal(
    *,
    section: Section | None = None,
    team: WorkingTeam | None = None,
    fiscal_year: int = 2025,
    position: int = 1,
    scene: str = "対面応対",
    goal: str = "丁寧に対応します。",
    result: str | None = None,
) -> ServiceGoal:
    """A goal of a section (for the year) or of a working team."""
    g = ServiceGoal(
        fiscal_year=team.fiscal_year if team else fiscal_year,
        section_id=section.id if section else None,
        working_team_id=team.id if team else None,
        position=position,
        scene=scene,
        goal=goal,
        result=result,
    )
    db.session.add(g)
    db.session.flush()
    return g
