"""The compliance results of a round as JSON (GET /api/v1/rounds/<id>/compliance).

Built from ``RoundResults``, whose small groups are already hidden: a hidden cell has state
``hidden`` and null counts and rate, so the answer carries nothing a page would not show.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.models import Role
from app.services.compliance import (
    Cell,
    ResponseRate,
    RoundInfo,
    RoundResults,
    StandardRow,
)
from app.wareki import fiscal_year_label

ROLE_KEYS = {Role.STAFF: "staff", Role.CHIEF: "chief"}


def _rate(rate: Decimal | None) -> float | None:
    return float(rate) if rate is not None else None


def round_info_json(info: RoundInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "fiscal_year": info.fiscal_year,
        "fiscal_year_label": fiscal_year_label(info.fiscal_year),
        "wards": [
            {"id": ward_id, "name": name}
            for ward_id, name in zip(info.ward_ids, info.ward_names, strict=True)
        ],
    }


def cell_json(cell: Cell) -> dict[str, Any]:
    return {
        "complies": cell.complies,
        "not_complies": cell.not_complies,
        "not_applicable": cell.not_applicable,
        "rate": _rate(cell.rate),
        "state": cell.state,
    }


def response_json(rate: ResponseRate) -> dict[str, Any]:
    return {
        "expected": rate.expected,
        "submitted": rate.submitted,
        "rate": _rate(rate.rate),
        "state": rate.state,
    }


def standard_json(row: StandardRow) -> dict[str, Any]:
    standard = row.standard
    return {
        "key": standard.key,
        "number": standard.number,
        "text": standard.text,
        "scene": standard.scene,
        "audience": standard.audience.value,
        "previous_number": row.previous_number,
        "roles": {ROLE_KEYS[role]: cell_json(row.current[role]) for role in ROLE_KEYS},
        "previous": (
            {
                ROLE_KEYS[role]: {"rate": _rate(row.previous[role].rate),
                                  "state": row.previous[role].state,
                                  "imported": row.previous[role].imported}
                for role in ROLE_KEYS
            }
            if row.previous is not None
            else None
        ),
    }


def compliance_json(results: RoundResults, group_key: str) -> dict[str, Any]:
    """The round's table for one visible group, with its response rates."""
    group = results.group(group_key)
    rows = results.table(group_key)
    compared = results.compared(group_key)
    rates = {ROLE_KEYS[role]: response_json(results.response_rate(group_key, role))
             for role in ROLE_KEYS}
    rates["all"] = response_json(results.response_rate(group_key))
    return {
        "round": round_info_json(results.round),
        "previous_round": (
            round_info_json(results.previous) if results.previous and compared else None
        ),
        "group": {"key": group.key, "level": group.level, "name": group.name},
        "min_group_size": results.min_group_size,
        "rounding": results.rounding,
        "response_rates": rates,
        "standards": [standard_json(row) for row in rows],
    }
