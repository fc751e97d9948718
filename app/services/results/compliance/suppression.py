"""The small-group rule applied to a round's compliance cells (reports/privacy.py ``suppress``).

Every cell built from at least one but fewer than ``MIN_GROUP_SIZE`` people is hidden, and so
is whatever other cell would let a hidden one be worked out from a published total (a
department from its ward, a section from its department); a standard that could be worked out
from its scene's total hides the scene's cell (and the all-standards cell) instead.
Section-level answers are statements about a section and are shown whatever their count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from app.services.results.compliance.model import (
    ALL,
    HIDDEN_CELL,
    Cell,
    CellKey,
    Counts,
    Group,
    StandardInfo,
    scene_column,
    std_column,
)
from app.services.rounds.audience import ROLES
from reports.privacy import suppress, too_small
from reports.rates import Rounding, compliance_rate


def suppressed_cells(
    counts: Mapping[CellKey, Counts],
    groups: Mapping[str, Group],
    standards: list[StandardInfo],
    min_size: int,
    rounding: Rounding,
) -> dict[CellKey, Cell]:
    person_level = [s for s in standards if not s.section_level and s.asked]
    columns = [std_column(s.key) for s in person_level]
    scenes: dict[str, list[str]] = defaultdict(list)
    for s in person_level:
        scenes[scene_column(s.scene)].append(std_column(s.key))
    columns += [*scenes, ALL]
    children: dict[str, list[str]] = defaultdict(list)
    for group in groups.values():
        if group.parent_key is not None:
            children[group.parent_key].append(group.key)

    # Groups add up to their parent group; a hidden part is covered by hiding a sibling.
    totals: list[tuple[CellKey, list[CellKey]]] = []
    # Standards add up to their scene, scenes to all standards; the report's table is by
    # standard, so a hidden standard is covered by hiding the scene total instead.
    sums: list[tuple[CellKey, list[CellKey]]] = []
    for role in ROLES:
        for parent, kids in children.items():
            for column in columns:
                totals.append(((parent, column, role), [(k, column, role) for k in kids]))
        for group_key in groups:
            for scene, parts in scenes.items():
                sums.append(((group_key, scene, role), [(group_key, p, role) for p in parts]))
            sums.append(((group_key, ALL, role), [(group_key, s, role) for s in scenes]))
    published = set(columns)
    exempt = {key for key in counts if key[1] not in published}  # section-level standards
    sizes = {key: c.people for key, c in counts.items()}
    few_answering = {
        key for key, c in counts.items() if too_small(c.answering, min_size) and key not in exempt
    }
    hidden = suppress(
        sizes, totals, min_size, exempt=exempt, also_hide=few_answering, weak_totals=sums
    )

    cells: dict[CellKey, Cell] = {}
    for key, c in counts.items():
        if key in hidden:
            cells[key] = HIDDEN_CELL
            continue
        rate = compliance_rate(c.complies, c.not_complies, rounding)
        cells[key] = Cell(
            "shown" if rate is not None else "empty",
            c.complies,
            c.not_complies,
            c.not_applicable,
            rate,
        )
    return cells
