"""The compliance results of a round as JSON (GET /api/v1/rounds/<id>/compliance).

Built from ``RoundResults``, whose small groups are already hidden: a hidden cell has state
``hidden`` and null counts and rate, so the answer carries nothing a page would not show.
"""

from __future__ import annotations

from decimal import Decimal

from app.api.schemas import (
    Compliance,
    ComplianceStandard,
    Group,
    PreviousCell,
    PreviousCells,
    RateCell,
    RateCells,
    ResponseRates,
    RoundSummary,
    Ward,
)
from app.api.schemas import ResponseRate as ResponseRateReply
from app.models import Role
from app.services.results.compliance import (
    Cell,
    ResponseRate,
    RoundInfo,
    RoundResults,
    StandardRow,
)
from app.wareki import fiscal_year_label


def _rate(rate: Decimal | None) -> float | None:
    return float(rate) if rate is not None else None


def round_summary(info: RoundInfo) -> RoundSummary:
    return RoundSummary(
        id=info.id,
        title=info.title,
        fiscal_year=info.fiscal_year,
        fiscal_year_label=fiscal_year_label(info.fiscal_year),
        wards=[
            Ward(id=ward_id, name=name)
            for ward_id, name in zip(info.ward_ids, info.ward_names, strict=True)
        ],
    )


def rate_cell(cell: Cell) -> RateCell:
    return RateCell(
        complies=cell.complies,
        not_complies=cell.not_complies,
        not_applicable=cell.not_applicable,
        rate=_rate(cell.rate),
        state=cell.state,
    )


def response_rate(rate: ResponseRate) -> ResponseRateReply:
    return ResponseRateReply(
        expected=rate.expected, submitted=rate.submitted, rate=_rate(rate.rate), state=rate.state
    )


def compliance_standard(row: StandardRow) -> ComplianceStandard:
    standard, previous = row.standard, row.previous
    return ComplianceStandard(
        key=standard.key,
        number=standard.number,
        text=standard.text,
        scene=standard.scene,
        audience=standard.audience,
        previous_number=row.previous_number,
        roles=RateCells(staff=rate_cell(row.current[Role.STAFF]),
                        chief=rate_cell(row.current[Role.CHIEF])),
        previous=(
            PreviousCells(
                staff=PreviousCell(rate=_rate(previous[Role.STAFF].rate),
                                   state=previous[Role.STAFF].state,
                                   imported=previous[Role.STAFF].imported),
                chief=PreviousCell(rate=_rate(previous[Role.CHIEF].rate),
                                   state=previous[Role.CHIEF].state,
                                   imported=previous[Role.CHIEF].imported),
            )
            if previous is not None
            else None
        ),
    )


def compliance_reply(results: RoundResults, group_key: str) -> Compliance:
    """The round's table for one visible group, with its response rates."""
    group = results.group(group_key)
    rows = results.table(group_key)
    compared = results.compared(group_key)
    return Compliance(
        round=round_summary(results.round),
        previous_round=(
            round_summary(results.previous) if results.previous and compared else None
        ),
        group=Group(key=group.key, level=group.level, name=group.name),
        min_group_size=results.min_group_size,
        rounding=results.rounding,
        response_rates=ResponseRates(
            staff=response_rate(results.response_rate(group_key, Role.STAFF)),
            chief=response_rate(results.response_rate(group_key, Role.CHIEF)),
            all=response_rate(results.response_rate(group_key)),
        ),
        standards=[compliance_standard(row) for row in rows],
    )
