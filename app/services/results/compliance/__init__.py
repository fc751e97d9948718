"""Compliance results (遵守率) of a round: the annual report's table, breakdowns and progress.

The rule (../shared/DOMAIN.md, reports/rates.py): per standard and role, rate = complies ÷
(complies + does not comply) × 100, not-applicable excluded, to one decimal, rounded as the
``RATE_ROUNDING`` setting says (``half_up`` 四捨五入 by default, or ``down`` 切り捨て). Only
submitted responses count; drafts never do. A cell shows "-" where the standard is not asked
of that role or nobody could answer it. Section-level standards count one answer per section
(the chief's, in a submitted response) and are given in the 所属長 column.

Counting is done by the database: a handful of GROUP BY queries per round (answers by section,
role and standard; respondents by section, role and scene; section answers by section and
standard; people expected and responses submitted by section and role). Their rows number
sections × standards, never people; rolling sections up into departments, wards and the whole
round, and standards up into scenes, is done over those rows. The number of queries is the
same whatever the number of people or sections.

Small groups (reports/privacy.py): every published cell (a group × a standard, scene or all
standards × a role, and every response rate) built from at least one but fewer than
``MIN_GROUP_SIZE`` people (default 5, never below 3) is hidden, and so is whatever other cell
would let a hidden one be worked out from a published total (a department from its ward, a
section from its department); a standard that could be worked out from its scene's total
hides the scene's cell (and the all-standards cell) instead. Hidden cells carry no counts at all,
so no page, chart, API answer or export built on these results can leak them. Section-level
answers are statements about a section and are shown whatever their count.

Year over year: the previous round is the same wards' round of the previous fiscal year; its
standards are matched by key, so a renumbered or reworded standard keeps its history.

The package, one module per reason to change (docs/architecture.md):

- ``model``: the values results are made of (cells, groups, rows, the round's facts, settings);
- ``results``: ``RoundResults``, ``round_results``, ``final_results``;
- ``cube``: building a round's cube from its closed round's counts (kept per process once
  counted, under everything it is made of: ``CUBE_CACHE``);
- ``suppression``: the small-group cells;
- ``response``: response rates and the response progress;
- ``overview``: the committee's list of rounds (``rounds_for_committee``);
- ``trend``: the trend over the years (``compliance_trend``).

Import the public names from here (``from app.services.results.compliance import ...``).
"""

from app.services.results.compliance.cube import CUBE_CACHE
from app.services.results.compliance.model import (
    ALL,
    HIDDEN_CELL,
    LEVELS,
    NOT_ASKED,
    Cell,
    CellState,
    Group,
    GroupRow,
    Level,
    ProgressPoint,
    ResponseRate,
    ResultsError,
    ResultsNotFinal,
    RoundInfo,
    StandardInfo,
    StandardRow,
    not_final_message,
    scene_column,
    settings,
    std_column,
)
from app.services.results.compliance.overview import RoundOverview, rounds_for_committee
from app.services.results.compliance.response import response_progress
from app.services.results.compliance.results import RoundResults, final_results, round_results
from app.services.results.compliance.trend import Trend, TrendStandard, compliance_trend
from app.services.rounds.audience import ROLES
from reports.rates import HIDDEN, NO_RATE, Rounding

__all__ = [
    "ALL",
    "CUBE_CACHE",
    "HIDDEN",
    "HIDDEN_CELL",
    "LEVELS",
    "NOT_ASKED",
    "NO_RATE",
    "ROLES",
    "Cell",
    "CellState",
    "Group",
    "GroupRow",
    "Level",
    "ProgressPoint",
    "ResponseRate",
    "ResultsError",
    "ResultsNotFinal",
    "RoundInfo",
    "RoundOverview",
    "RoundResults",
    "Rounding",
    "StandardInfo",
    "StandardRow",
    "Trend",
    "TrendStandard",
    "compliance_trend",
    "final_results",
    "not_final_message",
    "response_progress",
    "round_results",
    "rounds_for_committee",
    "scene_column",
    "settings",
    "std_column",
]
