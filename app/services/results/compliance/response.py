"""Response rates (submitted of expected, by group and role, small groups hidden) and the
response progress over the round's days."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from app.models import Role
from app.services.results.compliance.model import ALL, Group, ProgressPoint, ResponseRate, RoundInfo
from app.services.results.tally import Headcount, headcounts, submitted_by_day
from app.services.rounds.audience import ROLES
from reports.privacy import suppress
from reports.rates import Rounding, percentage

if TYPE_CHECKING:
    from app.services.results.compliance.results import RoundResults


def response_rates(
    info: RoundInfo,
    groups: Mapping[str, Group],
    belongs: Mapping[int, list[str]],
    min_size: int,
    rounding: Rounding,
) -> dict[tuple[str, Role | None], ResponseRate]:
    """People expected (the year's roster) and responses submitted, by section
    (``tally.headcounts``: a final round's from its counts), rolled up and small groups hidden."""
    heads = headcounts([(info.id, info.counted)])[info.id]
    return rates_from_headcounts(heads, groups, belongs, min_size, rounding)


def rates_from_headcounts(
    heads: Iterable[Headcount],
    groups: Mapping[str, Group],
    belongs: Mapping[int, list[str]],
    min_size: int,
    rounding: Rounding,
) -> dict[tuple[str, Role | None], ResponseRate]:
    """The response rates of ``response_rates`` from a round's ``tally.headcounts`` rows
    (section, ward, role, expected, submitted) already read: the one rule for every list of
    them (the committee's list of rounds reads many rounds' headcounts at once)."""
    expected: dict[tuple[str, Role | None], int] = defaultdict(int)
    done: dict[tuple[str, Role | None], int] = defaultdict(int)
    for section_id, _ward, role, whole, part in heads:
        for group_key in belongs.get(section_id, ()):
            for maybe_role in (role, None):
                expected[(group_key, maybe_role)] += whole
                done[(group_key, maybe_role)] += part

    totals: list[tuple[tuple[str, Role | None], list[tuple[str, Role | None]]]] = []
    children: dict[str, list[str]] = defaultdict(list)
    for group in groups.values():
        if group.parent_key is not None:
            children[group.parent_key].append(group.key)
    for maybe_role in (*ROLES, None):
        for parent, kids in children.items():
            totals.append(((parent, maybe_role), [(k, maybe_role) for k in kids]))
    both_roles = [((group_key, None), [(group_key, r) for r in ROLES]) for group_key in groups]
    hidden = suppress(dict(expected), totals, min_size, weak_totals=both_roles)

    rates: dict[tuple[str, Role | None], ResponseRate] = {}
    for key in set(expected) | set(done):
        if key in hidden:
            rates[key] = ResponseRate("hidden")
            continue
        whole, part = expected.get(key, 0), done.get(key, 0)
        rate = percentage(part, whole, rounding)
        rates[key] = ResponseRate("shown" if rate is not None else "empty", whole, part, rate)
    return rates


# --- Progress over the round ------------------------------------------------------------------


def response_progress(results: RoundResults) -> list[ProgressPoint]:
    """Responses submitted by the end of each day of the round, per role and in all.

    One query (``tally.submitted_by_day``: a final round's from its counts; otherwise by the
    Tokyo day of each latest submission). A series is given only where the reader's top group
    shows the same response rate (role, or None for all): where the chiefs' rate is hidden,
    全体 − 職員 must not give their count, so the total is hidden with it (the response
    rates' own small-group rule decides which).
    """
    info = results.round
    top = results.top
    per_day: dict[date, dict[Role, int]] = defaultdict(lambda: defaultdict(int))
    for day_value, role, number in submitted_by_day(
        info.id, info.counted, None if top.key == ALL else top.ward_id
    ):
        per_day[day_value][role] += number
    series: tuple[Role | None, ...] = (*ROLES, None)
    shown = {
        role: results.response_rate(top.key, role).state != "hidden" for role in series
    }
    points = []
    running: dict[Role, int] = defaultdict(int)
    for day_value in sorted(per_day):
        for role in ROLES:
            running[role] += per_day[day_value][role]
        submitted: dict[Role | None, int | None] = {
            role: running[role] if shown[role] else None for role in ROLES
        }
        submitted[None] = sum(running.values()) if shown[None] else None
        points.append(ProgressPoint(day_value, submitted))
    return points
