"""The roster page's downloads: a template to start from, and a year's roster in exactly the
format the import reads (docs/roster.md), so that next April's file starts from this year's.

The columns are ``roster_file.COLUMNS`` with their Japanese headers, in that order. A year's
roster lists everyone assigned that year to a section of the admin's wards, in the order the
import gave them (ward, then the sections' order, the chief first, then by 職員番号), with the
section's kinds on every line: imported again, it changes nothing (``tests/organisation/
test_roster_downloads.py``). The file is built by ``reports/roster_sheet.py``.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    SECTION_KINDS,
    Assignment,
    Department,
    Person,
    Role,
    Section,
    SectionKind,
    Ward,
    section_kind_link,
)
from app.services.organisation.roster_file import COLUMNS, ROLE_LABELS
from app.services.results.download_names import (
    CITY,
    DownloadKind,
    DownloadName,
    NamePart,
    download_name,
    ward_part,
    wards_part,
)

HEADER: tuple[str, ...] = tuple(COLUMNS.values())
YEARS_OFFERED = 3  # the latest years with a roster, newest first
KIND_SEPARATOR = ";"


def template_rows(ward: str) -> list[list[str]]:
    """The template's example (also shown on the roster page), in ``ward``: a section's chief
    and one of its staff (no mail address: allowed), and a section directly under the ward
    (no department)."""
    return [
        ["100001", "山田 太郎", "yamada-t@city.example.jp", ward, "まちづくり推進部", "総務課",
         ROLE_LABELS[Role.CHIEF], "庁舎管理担当課;研修担当課"],
        ["100002", "佐藤 花子", "", ward, "まちづくり推進部", "総務課",
         ROLE_LABELS[Role.STAFF], "庁舎管理担当課;研修担当課"],
        ["100003", "伊藤 健一", "ito-k@city.example.jp", ward, "", "危機管理担当",
         ROLE_LABELS[Role.CHIEF], ""],
    ]


def roster_years(ward_ids: Collection[int] | None) -> list[int]:
    """The latest fiscal years with a roster in these wards (None: every ward), newest first."""
    query = (
        sa.select(Assignment.fiscal_year)
        .join(Section, Section.id == Assignment.section_id)
        .group_by(Assignment.fiscal_year)
        .order_by(Assignment.fiscal_year.desc())
        .limit(YEARS_OFFERED)
    )
    if ward_ids is not None:
        query = query.where(Section.ward_id.in_(list(ward_ids)))
    return list(db.session.scalars(query))


def _kinds(ward_ids: Collection[int] | None) -> dict[int, str]:
    """Section id -> its kinds as the column writes them (in SECTION_KINDS' order)."""
    query = (
        sa.select(section_kind_link.c.section_id, SectionKind.name)
        .join(SectionKind, SectionKind.id == section_kind_link.c.kind_id)
        .join(Section, Section.id == section_kind_link.c.section_id)
    )
    if ward_ids is not None:
        query = query.where(Section.ward_id.in_(list(ward_ids)))
    found: dict[int, list[str]] = {}
    for section_id, name in db.session.execute(query):
        found.setdefault(section_id, []).append(name)
    return {
        section_id: KIND_SEPARATOR.join(k for k in SECTION_KINDS if k in names)
        for section_id, names in found.items()
    }


def roster_rows(fiscal_year: int, ward_ids: Collection[int] | None) -> list[list[str]]:
    """Everyone assigned in ``fiscal_year`` to a section of these wards, one line each, in
    the columns of ``HEADER``."""
    chief_first = sa.case((Assignment.role == Role.CHIEF, 0), else_=1)
    query = (
        sa.select(Person.employee_id, Person.name, Person.email, Ward.name, Department.name,
                  Section.name, Assignment.role, Section.id)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Section, Section.id == Assignment.section_id)
        .join(Ward, Ward.id == Section.ward_id)
        .outerjoin(Department, Department.id == Section.department_id)
        .where(Assignment.fiscal_year == fiscal_year)
        .order_by(Ward.sort_order, Ward.id, Section.sort_order, Section.id, chief_first,
                  Person.employee_id)
    )
    if ward_ids is not None:
        query = query.where(Section.ward_id.in_(list(ward_ids)))
    kinds = _kinds(ward_ids)
    return [
        [employee_id, name, email or "", ward, department or "", section, ROLE_LABELS[role],
         kinds.get(section_id, "")]
        for employee_id, name, email, ward, department, section, role, section_id
        in db.session.execute(query)
    ]


def _scope_part(ward_ids: Collection[int] | None) -> NamePart:
    if ward_ids is None:
        return CITY
    wards = [(id_, name) for id_, name in db.session.execute(
        sa.select(Ward.id, Ward.name).where(Ward.id.in_(list(ward_ids)))
        .order_by(Ward.sort_order, Ward.id)
    )]
    return ward_part(*wards[0]) if len(wards) == 1 else wards_part(wards)


def template_ward(ward_ids: Collection[int] | None) -> str:
    """The ward the template's example names: the admin's one ward, else 高津区."""
    if ward_ids is not None and len(ward_ids) == 1:
        name = db.session.scalar(sa.select(Ward.name).where(Ward.id.in_(list(ward_ids))))
        if name:
            return name
    return "高津区"


def roster_download_name(
    fiscal_year: int, ward_ids: Collection[int] | None, suffix: str, *, template: bool = False
) -> DownloadName:
    """``令和8年度_高津区_名簿.csv`` (or ``…_名簿の見本.csv`` for the template)."""
    kind: DownloadKind = "roster-template" if template else "roster"
    return download_name(fiscal_year, [_scope_part(ward_ids)], kind, suffix)
