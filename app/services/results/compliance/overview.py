"""The rounds the committee may read, with their overall response rate (the committee's list)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from app.extensions import db
from app.models import Catalogue, Round, Ward, round_ward
from app.services.results.compliance.model import ALL, Group, ResponseRate, RoundInfo, settings
from app.services.results.compliance.response import rates_from_headcounts
from app.services.results.tally import Headcount, ensure_counted, headcounts, wards_at_close
from reports.rates import Rounding, percentage

# --- Rounds the committee may read ------------------------------------------------------------


@dataclass(frozen=True)
class RoundOverview:
    """A round in the committee's list; the counts are None when the group is too small."""

    round: RoundInfo
    expected: int | None
    submitted: int | None
    rate: Decimal | None


def rounds_for_committee(
    ward_ids: Iterable[int] | None, now: datetime | None = None
) -> list[RoundOverview]:
    """The rounds covering the reader's wards (None: every ward), newest first, with their
    overall response rate over those wards (``tally.headcounts``: a closed round's from its
    counts, which are written first if need be; the caller commits), hidden by the response
    rates' own rule (``rates_from_headcounts``), as the round's page hides it. A handful of queries,
    whatever the number of rounds."""
    min_size, rounding = settings()
    allowed = None if ward_ids is None else set(ward_ids)
    at_close = wards_at_close()  # a counted round's wards are named as at its close
    rows = db.session.execute(
        sa.select(
            Round.id, Round.title, Round.fiscal_year, Round.opens_at, Round.closes_at,
            Round.counted_at, Catalogue.key, Catalogue.title, Ward.id,
            sa.func.coalesce(at_close.c.ward_name, Ward.name),
        )
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .join(Ward, Ward.id == round_ward.c.ward_id)
        .outerjoin(
            at_close, sa.and_(at_close.c.round_id == Round.id, at_close.c.ward_id == Ward.id)
        )
        .order_by(
            Round.opens_at.desc(),
            Round.id.desc(),
            sa.func.coalesce(at_close.c.ward_order, Ward.sort_order),
            Ward.id,
        )
    ).all()
    wards: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        wards[row[0]].append((row[8], row[9]))
    visible = [
        round_id for round_id, ids in wards.items()
        if allowed is None or any(w in allowed for w, _name in ids)
    ]
    ensure_counted(visible, now)
    # Read again: ensure_counted may just have counted some.
    counted_at: dict[int, datetime | None] = {
        round_id: at
        for round_id, at in db.session.execute(
            sa.select(Round.id, Round.counted_at).where(
                Round.id.in_(visible), Round.counted_at.is_not(None)
            )
        )
    } if visible else {}
    infos: dict[int, RoundInfo] = {}
    for row in rows:
        round_id = row[0]
        if round_id in visible and round_id not in infos:
            infos[round_id] = RoundInfo(
                round_id, row[1], row[2], row[3], row[4], row[6], row[7],
                tuple(w for w, _n in wards[round_id]), tuple(n for _w, n in wards[round_id]),
                counted_at=counted_at.get(round_id),
            )
    heads = headcounts([(round_id, info.counted) for round_id, info in infos.items()])
    return [
        _overview(info, heads.get(round_id, ()), allowed, min_size, rounding)
        for round_id, info in infos.items()
    ]


def _overview(
    info: RoundInfo,
    heads: Sequence[Headcount],
    allowed: set[int] | None,
    min_size: int,
    rounding: Rounding,
) -> RoundOverview:
    """One round's line: the response rate the round's own page shows for the reader's top
    group (``response_rates``' rule: a total is hidden with a small role of it, since the page
    shows the staff's rate). A reader of several of the round's wards but not all sees their
    sum only when every one of those wards' rates is shown."""
    groups: dict[str, Group] = {ALL: Group(ALL, "all", ALL, None)}
    belongs: dict[int, list[str]] = {}
    for section_id, ward_id, _role, _whole, _part in heads:
        key = f"ward:{ward_id}"
        groups.setdefault(key, Group(key, "ward", key, ALL, ward_id))
        belongs[section_id] = [key, ALL]
    rates = rates_from_headcounts(heads, groups, belongs, min_size, rounding)
    if allowed is None or allowed >= set(info.ward_ids):
        tops = [ALL]
    else:
        tops = [f"ward:{w}" for w in info.ward_ids if w in allowed]
    shown = [rates.get((key, None), ResponseRate("empty", 0, 0)) for key in tops]
    if any(r.state == "hidden" for r in shown):
        return RoundOverview(info, None, None, None)
    whole = sum(r.expected or 0 for r in shown)
    part = sum(r.submitted or 0 for r in shown)
    return RoundOverview(info, whole, part, percentage(part, whole, rounding))
