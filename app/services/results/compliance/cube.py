"""Building a round's cube from the closed round's counts (app/services/results/tally.py): the
round's facts, its standards and organisation (a handful of queries), the counts per section rolled
up to departments, wards and the whole round, and standards up to scenes; then the small groups
hidden (``suppression``) and the response rates (``response``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    Catalogue,
    Department,
    Role,
    Round,
    Section,
    Standard,
    Ward,
    round_ward,
)
from app.services.results.compliance.model import (
    ALL,
    Cell,
    CellKey,
    Counts,
    Group,
    ResponseRate,
    RoundInfo,
    StandardInfo,
    scene_column,
    std_column,
)
from app.services.results.compliance.response import response_rates
from app.services.results.compliance.suppression import suppressed_cells
from app.services.results.tally import (
    OrganisationRow,
    answer_counts,
    round_organisation,
    wards_at_close,
)
from app.services.rounds.audience import asked_roles
from reports.rates import Rounding


@dataclass
class Cube:
    """Suppressed cells and response rates of one round."""

    round: RoundInfo
    groups: dict[str, Group]
    order: list[str]
    standards: list[StandardInfo]
    cells: dict[CellKey, Cell]
    responses: dict[tuple[str, Role | None], ResponseRate]



def round_info(round_id: int) -> RoundInfo | None:
    """One query: the round, its catalogue and its wards (a counted round's wards named and
    ordered as at its close, ``round_section``)."""
    at_close = wards_at_close(round_id)
    rows = db.session.execute(
        sa.select(
            Round.id,
            Round.title,
            Round.fiscal_year,
            Round.opens_at,
            Round.closes_at,
            Round.counted_at,
            Round.revision,
            Catalogue.key,
            Catalogue.title,
            Ward.id,
            sa.func.coalesce(at_close.c.ward_name, Ward.name),
        )
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .join(Ward, Ward.id == round_ward.c.ward_id)
        .outerjoin(at_close, at_close.c.ward_id == Ward.id)
        .where(Round.id == round_id)
        .order_by(sa.func.coalesce(at_close.c.ward_order, Ward.sort_order), Ward.id)
    ).all()
    if not rows:
        return None
    first = rows[0]
    return RoundInfo(
        id=first[0],
        title=first[1],
        fiscal_year=first[2],
        opens_at=first[3],
        closes_at=first[4],
        catalogue_key=first[7],
        catalogue_title=first[8],
        ward_ids=tuple(r[9] for r in rows),
        ward_names=tuple(r[10] for r in rows),
        counted_at=first[5],
        revision=first[6],
    )


def previous_round(info: RoundInfo) -> RoundInfo | None:
    """Last fiscal year's round sharing the most wards with this one (latest close wins)."""
    shared = sa.func.count(round_ward.c.ward_id)
    row = db.session.execute(
        sa.select(Round.id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .where(
            Round.fiscal_year == info.fiscal_year - 1,
            round_ward.c.ward_id.in_(info.ward_ids),
        )
        .group_by(Round.id, Round.closes_at)
        .order_by(shared.desc(), Round.closes_at.desc(), Round.id.desc())
        .limit(1)
    ).first()
    return round_info(row[0]) if row else None


def _standards(info: RoundInfo) -> list[StandardInfo]:
    """One query: the catalogue's standards in order, with whom each is asked of."""
    rows = db.session.execute(
        sa.select(
            Standard.key,
            Standard.number,
            Standard.text,
            Standard.scene,
            Standard.audience,
            Standard.ward_specific,
            Catalogue.ward_id,
        )
        .join(Catalogue, Catalogue.id == Standard.catalogue_id)
        .where(Catalogue.key == info.catalogue_key)
        .order_by(Standard.position, Standard.number)
    ).all()
    standards = []
    for key, number, text, scene, audience, ward_specific, catalogue_ward in rows:
        asked = asked_roles(audience, ward_specific, catalogue_ward)
        standards.append(
            StandardInfo(key, number, text, scene, audience, ward_specific, asked)
        )
    return standards


def _organisation_rows(info: RoundInfo) -> tuple[OrganisationRow, ...]:
    """One query: the sections of the round's wards with their department and ward, in the
    organisation's order. A counted round's are those of its close (``round_section``,
    ``tally.round_organisation``): a later roster changes nothing about a closed round. A
    round not counted yet shows only response rates, grouped by the organisation as it is."""
    if info.counted:
        return round_organisation(info.id)
    rows = db.session.execute(
        sa.select(
            Section.id,
            Section.name,
            Department.id,
            Department.name,
            Ward.id,
            Ward.name,
        )
        .join(Ward, Ward.id == Section.ward_id)
        .outerjoin(Department, Department.id == Section.department_id)
        .where(Section.ward_id.in_(info.ward_ids))
        .order_by(
            Ward.sort_order,
            Ward.id,
            Department.id.is_not(None),  # sections directly under the ward come first
            Department.sort_order,
            Department.id,
            Section.sort_order,
            Section.id,
        )
    ).all()
    return tuple((r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows)


def _organisation(
    info: RoundInfo, rows: Sequence[OrganisationRow], labels: tuple[str, str]
) -> tuple[dict[str, Group], list[str], dict[int, list[str]]]:
    """The groups of the round's wards in the organisation's order, and for each section the
    keys of the groups it belongs to (itself, its department, its ward, all). ``labels``: the
    names of the whole round and of a ward's sections outside any department."""
    everyone_label, direct_label = labels
    everyone = everyone_label if len(info.ward_ids) > 1 else info.ward_names[0]
    groups: dict[str, Group] = {ALL: Group(ALL, "all", everyone, None)}
    order = [ALL]
    belongs: dict[int, list[str]] = {}
    for section_id, section_name, dept_id, dept_name, ward_id, ward_name in rows:
        ward_key = f"ward:{ward_id}"
        if ward_key not in groups:
            groups[ward_key] = Group(
                ward_key, "ward", ward_name, ALL, ward_id, None, None, ward_name
            )
            order.append(ward_key)
        dept_key = f"department:{dept_id}" if dept_id else f"department:{ward_id}:direct"
        if dept_key not in groups:
            name = dept_name or direct_label
            groups[dept_key] = Group(
                dept_key, "department", name, ward_key, ward_id, dept_id, None, ward_name, name
            )
            order.append(dept_key)
        section_key = f"section:{section_id}"
        groups[section_key] = Group(
            section_key,
            "section",
            section_name,
            dept_key,
            ward_id,
            dept_id,
            section_id,
            ward_name,
            groups[dept_key].name,
        )
        order.append(section_key)
        belongs[section_id] = [section_key, dept_key, ward_key, ALL]
    return groups, order, belongs


def _merge(totals: dict[Any, list[int]], key: Any, counts: Sequence[int]) -> None:
    """Add ``counts`` ([yes, no, na, people, answering]) to ``totals[key]``."""
    total = totals.get(key)
    if total is None:
        totals[key] = list(counts)
    else:
        total[0] += counts[0]
        total[1] += counts[1]
        total[2] += counts[2]
        total[3] += counts[3]
        total[4] += counts[4]


CUBE_CACHE = "kijun.compliance_cubes"
# Counted rounds kept per process (per app): this year and last for two rounds. A 20,000-person
# cube is ~3.3 MB, so a web worker stays under its 150 MB (docs/benchmarks.md) whatever is read.
CUBE_CACHE_SIZE = 4
_cube_lock = threading.Lock()


def build_cube(info: RoundInfo, min_size: int, rounding: Rounding) -> Cube:
    """Count a round in the database, roll it up and hide the small groups.

    A counted round's cube is kept per process (per app), under everything it is made of:
    the round's counts (``counted_at`` with the round's revision; they never change until a
    reopening discards them), its standards as read now and its organisation at the close
    (two small queries), the settings and the translated labels. A change to any of them
    builds a new one, so nothing kept is ever out of date. A round still being answered is
    never kept."""
    standards = _standards(info)
    rows = _organisation_rows(info)
    labels = (_("全体"), _("部に属さない課"))
    if not info.counted:
        return _counted_cube(info, standards, rows, labels, min_size, rounding)
    key = (info, tuple(standards), rows, labels, min_size, rounding)
    cache: OrderedDict[Any, Cube] = current_app.extensions.setdefault(CUBE_CACHE, OrderedDict())
    with _cube_lock:
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return found
    cube = _counted_cube(info, standards, rows, labels, min_size, rounding)
    with _cube_lock:
        cache[key] = cube
        while len(cache) > CUBE_CACHE_SIZE:
            cache.popitem(last=False)
    return cube


def _counted_cube(
    info: RoundInfo,
    standards: list[StandardInfo],
    rows: Sequence[OrganisationRow],
    labels: tuple[str, str],
    min_size: int,
    rounding: Rounding,
) -> Cube:
    """The cube of a round from its counts (none before it is counted: response rates only)."""
    groups, order, belongs = _organisation(info, rows, labels)
    # Counts per section first ([yes, no, na, people, answering]), then rolled up level by
    # level below, rather than adding every answer row to each of its four groups. Only a
    # final (closed and counted) round has any; its rows number sections × standards.
    by_section: dict[tuple[int, str, Role], list[int]] = {}
    # Each standard's column and scene, worked out once rather than per row.
    columns_of = {
        s.key: (std_column(s.key), scene_column(s.scene), s.asked, s.section_level)
        for s in standards
    }
    for section_id, role, key, yes, no, na in answer_counts(info.id) if info.counted else ():
        column, scene, asked, section_level = columns_of.get(key, ("", "", frozenset(), False))
        if role not in asked:
            continue
        item = (yes, no, na, yes + no + na, yes + no)
        _merge(by_section, (section_id, column, role), item)
        if not section_level:
            answers_only = (yes, no, na, 0, 0)
            _merge(by_section, (section_id, scene, role), answers_only)
            _merge(by_section, (section_id, ALL, role), answers_only)

    # Sections add up to departments, departments to wards, wards to the whole round.
    level: dict[CellKey, list[int]] = {
        (f"section:{section_id}", column, role): section_counts
        for (section_id, column, role), section_counts in by_section.items()
        if section_id in belongs
    }
    rolled = dict(level)
    while level:
        parents: dict[CellKey, list[int]] = {}
        for (group_key, column, role), group_counts in level.items():
            parent = groups[group_key].parent_key
            if parent is not None:
                _merge(parents, (parent, column, role), group_counts)
        rolled.update(parents)
        level = parents

    # A scene (and all standards) is built from as many people as its most answered standard.
    # A submitted response answers every standard, so this is the number of respondents; for
    # the people whose answers enter the rate it is a lower bound, which errs on the safe side.
    scene_of = {
        std_column(s.key): scene_column(s.scene)
        for s in standards
        if s.asked and not s.section_level
    }
    for (group_key, column, role), cell in list(rolled.items()):
        scene_key = scene_of.get(column)
        if scene_key is None:
            continue
        for total_column in (scene_key, ALL):
            total = rolled[(group_key, total_column, role)]
            total[3] = max(total[3], cell[3])
            total[4] = max(total[4], cell[4])
    counts = {key: Counts(*c) for key, c in rolled.items()}

    cells = suppressed_cells(counts, groups, standards, min_size, rounding)
    responses = response_rates(info, groups, belongs, min_size, rounding)
    return Cube(info, groups, order, standards, cells, responses)
