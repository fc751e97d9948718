"""Roster import: write one fiscal year's roster, checked as a whole first.

The file lists every person of one or more wards with their section and role for the year.
Reading (``read_roster``, app/services/organisation/roster_file.py) checks each line; importing
(``import_roster``, here) checks the lines against each other and then, only when there is no
error at all, creates the wards, departments and sections it names
(app/services/organisation/roster_organisation.py), adds or updates the people and sets their
assignment for the fiscal year. Assignments of other years are never touched, so past results
keep the section and role each person had then.

The import is written for large rosters (a whole city, ~20,000 people): it reads what exists in
a handful of queries and writes with ``executemany``, so the number of SQL statements does not
grow with the number of people (lookups by employee id go in chunks of ``LOOKUP_CHUNK``).
As every service here, it never commits: the caller commits, or rolls back on ``RosterError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db, refresh_statistics
from app.models import (
    Assignment,
    Department,
    Person,
    Response,
    Role,
    Round,
    Section,
    Ward,
)
from app.services.organisation.roster_file import (
    ROLE_LABELS,
    RosterError,
    RosterRow,
    check_rows,
    name_key,
)
from app.services.organisation.roster_organisation import (
    Organisation,
    bulk_insert,
    chunks,
    sync_organisation,
)
from app.wareki import fiscal_year_label


@dataclass(frozen=True)
class KeptAssignment:
    """Someone missing from the file whose assignment stays: they already answered this year."""

    employee_id: str
    name: str
    section: str
    role: Role
    downgraded: bool = False  # was the chief; the file names another chief, so now staff


@dataclass(frozen=True)
class RosterSummary:
    """What an import did (or, in a dry run, would do).

    People: added / updated (name or email changed) / unchanged. Assignments of the fiscal year:
    created, moved (section changed), role changed (same section), removed (not in the file),
    unchanged, and the ones kept although missing from the file. Compared with the previous
    fiscal year: transfers (another section than last year), role changes (same section, other
    role), arrivals (no assignment last year) and leavers (in these wards last year, not in the
    file).
    """

    fiscal_year: int
    wards: tuple[str, ...]
    rows: int
    people_added: int
    people_updated: int
    people_unchanged: int
    assignments_created: int
    assignments_moved: int
    assignments_role_changed: int
    assignments_removed: int
    assignments_unchanged: int
    transfers: int
    role_changes: int
    arrivals: int
    leavers: int
    wards_created: int = 0
    departments_created: int = 0
    sections_created: int = 0
    sections_updated: int = 0
    kept: tuple[KeptAssignment, ...] = ()

    @property
    def assignments_changed(self) -> int:
        """Assignments of the year that changed section or role."""
        return self.assignments_moved + self.assignments_role_changed

    @property
    def changed_anything(self) -> bool:
        """False when the import found the database already as the file says."""
        return bool(
            self.people_added
            or self.people_updated
            or self.assignments_created
            or self.assignments_changed
            or self.assignments_removed
            or self.wards_created
            or self.departments_created
            or self.sections_created
            or self.sections_updated
            or any(k.downgraded for k in self.kept)
        )

    def lines(self) -> list[str]:
        """The summary in Japanese, one line per fact, for the command line."""
        year = f"{fiscal_year_label(self.fiscal_year)}（{self.fiscal_year}年度）"
        previous = fiscal_year_label(self.fiscal_year - 1)
        out = [
            f"{year}の名簿: {'・'.join(self.wards)}、{self.rows}人",
            f"職員: 追加 {self.people_added}人 / 氏名・メールの更新 {self.people_updated}人"
            f" / 変更なし {self.people_unchanged}人",
            f"今年度の配属: 新規 {self.assignments_created}件 / 課の変更 {self.assignments_moved}件"
            f" / 役割の変更 {self.assignments_role_changed}件 / 削除 {self.assignments_removed}件"
            f" / 変更なし {self.assignments_unchanged}件",
            f"{previous}との比較: 異動 {self.transfers}人 / 役割の変更 {self.role_changes}人"
            f" / 新たに配属 {self.arrivals}人 / 転出・退職 {self.leavers}人",
        ]
        if self.wards_created or self.departments_created or self.sections_created:
            out.append(
                f"組織の追加: 区 {self.wards_created}件 / 部 {self.departments_created}件"
                f" / 課 {self.sections_created}件"
            )
        if self.sections_updated:
            out.append(f"部または課の種類を変更した課: {self.sections_updated}件")
        if self.kept:
            out.append(f"名簿にないが今年度すでに回答があるため配属を残した人: {len(self.kept)}人")
            for k in self.kept:
                note = "（名簿に別の所属長がいるため職員に変更）" if k.downgraded else ""
                role = ROLE_LABELS[k.role]
                out.append(f"  {k.employee_id} {k.name}（{k.section}・{role}）{note}")
        if not self.changed_anything:
            out.append("データベースはすでに名簿のとおりで、変更はありませんでした。")
        return out


# --- Writing ------------------------------------------------------------------------------


def import_roster(
    rows: Sequence[RosterRow], fiscal_year: int, *, keep_identity: frozenset[str] = frozenset()
) -> RosterSummary:
    """Make the database hold this roster as the wards' assignments for ``fiscal_year``.

    All or nothing: every problem (see ``check_rows``) is collected first and reported in one
    ``RosterError``; then nothing is written. Otherwise wards, departments and sections are
    created by name as needed (a section takes this file's department and, when the file has
    the column, kinds), people are added or updated by employee id, and each person's
    assignment for ``fiscal_year`` is created or updated. People assigned in ``fiscal_year`` to
    a section of the file's wards but missing from the file lose that assignment, unless they
    already have a response in a round of that year (then it is kept, see
    ``RosterSummary.kept``). Assignments of other years are not touched. The people of
    ``keep_identity`` (employee ids) keep their stored name and mail address whatever the file
    says (``roster_upload.check_identity``). Never commits.
    """
    if not rows:
        raise RosterError(["名簿に職員の行がありません"])
    errors = check_rows(rows)
    if errors:
        raise RosterError(errors)

    db.session.flush()  # pending changes first: the bulk statements below bypass the session
    org = sync_organisation(rows)
    known, people = _sync_people(rows, fiscal_year, keep_identity)
    summary = _sync_assignments(rows, fiscal_year, org, known, people)
    if summary.changed_anything:
        # The first roster of a database fills empty tables: see refresh_statistics.
        refresh_statistics(Ward, Department, Section, Person, Assignment)
    db.session.expire_all()  # objects loaded before the import see the new rows
    return summary


@dataclass(frozen=True)
class _Known:
    """A person of the file as found in the database (or just added)."""

    person_id: int
    current: tuple[int, int, Role] | None  # (assignment id, section id, role) in the year
    previous: tuple[int, Role] | None  # (section id, role) in the year before


@dataclass
class _PeopleCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def _sync_people(
    rows: Sequence[RosterRow], fiscal_year: int, keep_identity: frozenset[str]
) -> tuple[dict[str, _Known], _PeopleCounts]:
    """Add the new people, update names and emails (not those of ``keep_identity``); return
    everyone with their assignments."""
    current = so.aliased(Assignment)
    previous = so.aliased(Assignment)
    known: dict[str, _Known] = {}
    details: dict[str, tuple[str, str | None]] = {}
    employee_ids = [row.employee_id for row in rows]
    for chunk in chunks(employee_ids):
        found = db.session.execute(
            sa.select(
                Person.id,
                Person.employee_id,
                Person.name,
                Person.email,
                current.id,
                current.section_id,
                current.role,
                previous.section_id,
                previous.role,
            )
            .outerjoin(
                current,
                sa.and_(current.person_id == Person.id, current.fiscal_year == fiscal_year),
            )
            .outerjoin(
                previous,
                sa.and_(previous.person_id == Person.id, previous.fiscal_year == fiscal_year - 1),
            )
            .where(Person.employee_id.in_(chunk))
        )
        for pid, eid, name, email, aid, section_id, role, prev_section, prev_role in found:
            known[eid] = _Known(
                person_id=pid,
                current=(aid, section_id, role) if aid is not None else None,
                previous=(prev_section, prev_role) if prev_section is not None else None,
            )
            details[eid] = (name, email)

    counts = _PeopleCounts()
    new_people = [
        {"employee_id": row.employee_id, "name": row.name, "email": row.email}
        for row in rows
        if row.employee_id not in known
    ]
    changed_people = [
        {"id": known[row.employee_id].person_id, "name": row.name, "email": row.email}
        for row in rows
        if row.employee_id in known
        and row.employee_id not in keep_identity
        and details[row.employee_id] != (row.name, row.email)
    ]
    if new_people:
        created = db.session.execute(
            bulk_insert(Person).returning(Person.id, Person.employee_id), new_people
        )
        for pid, eid in created:
            known[eid] = _Known(person_id=pid, current=None, previous=None)
    if changed_people:
        db.session.execute(sa.update(Person), changed_people)
    counts.added = len(new_people)
    counts.updated = len(changed_people)
    counts.unchanged = len(rows) - counts.added - counts.updated
    return known, counts


@dataclass
class _AssignmentPlan:
    """The writes that make the year's assignments as the file says, and what they change.

    ``as_staff``: new section, role staff (step 2); ``to_chief``: role chief (step 3);
    ``inserts``: new assignments (step 4); ``removed``: assignment ids to delete (step 1).
    """

    inserts: list[dict[str, Any]] = field(default_factory=list)
    as_staff: list[dict[str, Any]] = field(default_factory=list)
    to_chief: list[dict[str, Any]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    kept: list[KeptAssignment] = field(default_factory=list)
    chief_sections: set[int] = field(default_factory=set)
    moved: int = 0
    role_changed: int = 0
    unchanged: int = 0
    transfers: int = 0
    role_changes: int = 0
    arrivals: int = 0


def _sync_assignments(
    rows: Sequence[RosterRow],
    fiscal_year: int,
    org: Organisation,
    known: dict[str, _Known],
    people: _PeopleCounts,
) -> RosterSummary:
    """Set the year's assignments as the file says, in an order the one-chief index accepts.

    Order: delete the leavers' assignments; move every changed assignment to its new section
    as staff (and make a kept chief staff where the file names another chief); then make the
    new chiefs chiefs; then insert the new assignments. No step leaves two chiefs in a section.
    """
    ward_ids = list(org.ward_ids.values())
    in_file = {known[row.employee_id].person_id for row in rows}
    plan = _AssignmentPlan()
    for row in rows:
        section_id = org.section_ids[(org.ward_ids[name_key(row.ward)], name_key(row.section))]
        _plan_row(row, known[row.employee_id], section_id, fiscal_year, plan)
    others = _missing_from_file(fiscal_year, ward_ids, in_file)
    answered = _answered_in_year(fiscal_year, ward_ids) if others else set()
    _keep_or_remove(others, answered, org, plan)
    last_year = _assigned_in_year(fiscal_year - 1, ward_ids)
    _write_assignments(plan)
    return _summary(rows, fiscal_year, org, people, plan, leavers=len(last_year - in_file))


def _plan_row(
    row: RosterRow, person: _Known, section_id: int, fiscal_year: int, plan: _AssignmentPlan
) -> None:
    """Add to ``plan`` what one line of the file changes, and count it against this year's
    assignment and last year's."""
    if row.role is Role.CHIEF:
        plan.chief_sections.add(section_id)
    if person.current is None:
        plan.inserts.append(
            {
                "person_id": person.person_id,
                "fiscal_year": fiscal_year,
                "section_id": section_id,
                "role": row.role,
            }
        )
    else:
        assignment_id, old_section, old_role = person.current
        if (old_section, old_role) == (section_id, row.role):
            plan.unchanged += 1
        else:
            if old_section != section_id:
                plan.moved += 1
            else:
                plan.role_changed += 1
            plan.as_staff.append(
                {"id": assignment_id, "section_id": section_id, "role": Role.STAFF}
            )
            if row.role is Role.CHIEF:
                plan.to_chief.append({"id": assignment_id, "role": Role.CHIEF})
    if person.previous is None:
        plan.arrivals += 1
    elif person.previous[0] != section_id:
        plan.transfers += 1
    elif person.previous[1] is not row.role:
        plan.role_changes += 1


# (assignment id, person id, section id, role, employee id, name)
_Other = tuple[int, int, int, Role, str, str]


def _missing_from_file(fiscal_year: int, ward_ids: list[int], in_file: set[int]) -> list[_Other]:
    """The assignments of the year in these wards of people who are not in the file."""
    return [
        (other[0], other[1], other[2], other[3], other[4], other[5])
        for other in db.session.execute(
            sa.select(
                Assignment.id,
                Assignment.person_id,
                Assignment.section_id,
                Assignment.role,
                Person.employee_id,
                Person.name,
            )
            .join(Person, Person.id == Assignment.person_id)
            .join(Section, Section.id == Assignment.section_id)
            .where(Assignment.fiscal_year == fiscal_year, Section.ward_id.in_(ward_ids))
        )
        if other[1] not in in_file
    ]


def _answered_in_year(fiscal_year: int, ward_ids: list[int]) -> set[int]:
    """The people assigned in these wards this year who answered a round of the year."""
    return set(
        db.session.scalars(
            sa.select(Response.person_id)
            .distinct()
            .join(Round, Round.id == Response.round_id)
            .join(
                Assignment,
                sa.and_(
                    Assignment.person_id == Response.person_id,
                    Assignment.fiscal_year == fiscal_year,
                ),
            )
            .join(Section, Section.id == Assignment.section_id)
            .where(Round.fiscal_year == fiscal_year, Section.ward_id.in_(ward_ids))
        )
    )


def _keep_or_remove(
    others: list[_Other], answered: set[int], org: Organisation, plan: _AssignmentPlan
) -> None:
    """Remove the assignment of each person missing from the file, unless they answered this
    year: then keep it, as staff where the file names another chief of the section."""
    for assignment_id, person_id, section_id, role, employee_id, name in others:
        if person_id not in answered:
            plan.removed.append(assignment_id)
            continue
        downgraded = role is Role.CHIEF and section_id in plan.chief_sections
        if downgraded:
            plan.as_staff.append(
                {"id": assignment_id, "section_id": section_id, "role": Role.STAFF}
            )
        plan.kept.append(
            KeptAssignment(
                employee_id=employee_id,
                name=name,
                section=org.section_names.get(section_id, ""),
                role=role,
                downgraded=downgraded,
            )
        )


def _assigned_in_year(fiscal_year: int, ward_ids: list[int]) -> set[int]:
    """The people assigned in ``fiscal_year`` to a section of these wards."""
    return set(
        db.session.scalars(
            sa.select(Assignment.person_id)
            .join(Section, Section.id == Assignment.section_id)
            .where(Assignment.fiscal_year == fiscal_year, Section.ward_id.in_(ward_ids))
        )
    )


def _write_assignments(plan: _AssignmentPlan) -> None:
    """The plan's writes in the order the one-chief index accepts (see ``_sync_assignments``)."""
    for chunk in chunks(plan.removed):
        db.session.execute(
            sa.delete(Assignment)
            .where(Assignment.id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    if plan.as_staff:
        db.session.execute(sa.update(Assignment), plan.as_staff)
    if plan.to_chief:
        db.session.execute(sa.update(Assignment), plan.to_chief)
    if plan.inserts:
        db.session.execute(bulk_insert(Assignment), plan.inserts)


def _summary(
    rows: Sequence[RosterRow],
    fiscal_year: int,
    org: Organisation,
    people: _PeopleCounts,
    plan: _AssignmentPlan,
    leavers: int,
) -> RosterSummary:
    return RosterSummary(
        fiscal_year=fiscal_year,
        wards=tuple(_ward_names(rows)),
        rows=len(rows),
        people_added=people.added,
        people_updated=people.updated,
        people_unchanged=people.unchanged,
        assignments_created=len(plan.inserts),
        assignments_moved=plan.moved,
        assignments_role_changed=plan.role_changed,
        assignments_removed=len(plan.removed),
        assignments_unchanged=plan.unchanged,
        transfers=plan.transfers,
        role_changes=plan.role_changes,
        arrivals=plan.arrivals,
        leavers=leavers,
        wards_created=org.wards_created,
        departments_created=org.departments_created,
        sections_created=org.sections_created,
        sections_updated=org.sections_updated,
        kept=tuple(sorted(plan.kept, key=lambda k: k.employee_id)),
    )


def _ward_names(rows: Iterable[RosterRow]) -> list[str]:
    names: dict[str, str] = {}
    for row in rows:
        names.setdefault(name_key(row.ward), row.ward)
    return list(names.values())
