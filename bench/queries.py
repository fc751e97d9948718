"""Benchmark 2: the compliance results of one round and the ten-year trend, each against the
single hand-written SQL query that counts the same numbers on the same database."""

from __future__ import annotations

import gc
from typing import Any

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.services.results.compliance import compliance_trend, round_results
from bench.common import timed_pair

# The round's answers counted by section, role and standard in one statement: the counts
# every published number (department, ward, whole round, scenes) is a sum of. The strictest
# baseline: a GROUPING SETS query that also returns the sums is slower (see docs/benchmarks.md).
HAND_ROUND = """
SELECT r.round_id, r.section_id, r.role, a.standard_id,
       count(*) FILTER (WHERE a.value = 'yes') AS yes,
       count(*) FILTER (WHERE a.value = 'no') AS no,
       count(*) FILTER (WHERE a.value = 'na') AS na
FROM answer a
JOIN response r ON r.id = a.response_id
WHERE r.round_id = ANY(:rounds) AND r.status = 'submitted'
GROUP BY r.round_id, r.section_id, r.role, a.standard_id
"""

# The trend: every closed round's answers by fiscal year, role and standard key.
HAND_TREND = """
SELECT ro.fiscal_year, r.role, st.key,
       count(*) FILTER (WHERE a.value = 'yes') AS yes,
       count(*) FILTER (WHERE a.value = 'no') AS no,
       count(*) FILTER (WHERE a.value = 'na') AS na
FROM answer a
JOIN response r ON r.id = a.response_id
JOIN round ro ON ro.id = r.round_id
JOIN standard st ON st.id = a.standard_id
WHERE r.status = 'submitted' AND ro.closes_at <= now()
GROUP BY ro.fiscal_year, r.role, st.key
"""


def latest_closed_rounds() -> tuple[int, int | None]:
    rows = db.session.execute(
        sa.text("SELECT id FROM round WHERE closes_at <= now() ORDER BY fiscal_year DESC LIMIT 2")
    ).scalars().all()
    return rows[0], (rows[1] if len(rows) > 1 else None)


def _hand(sql: str, **params: Any) -> None:
    db.session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    db.session.execute(sa.text(sql), params).all()
    db.session.rollback()


def _service(fn: Any) -> None:
    fn()
    db.session.rollback()


def run(database_url: str, repeat: int = 5) -> dict[str, Any]:
    """Time round_results (with and without the previous year) and compliance_trend, and the
    hand-written queries they are compared with. Ratios are service ÷ hand query (medians)."""
    app = create_app({"SECRET_KEY": "bench-only-secret", "SQLALCHEMY_DATABASE_URI": database_url})
    gc.freeze()  # as wsgi.py does after building the app
    out: dict[str, Any] = {}
    with app.app_context():
        current, previous = latest_closed_rounds()
        pairs = {
            "round_results (one round)": (
                lambda: _service(lambda: round_results(current, with_previous=False)),
                lambda: _hand(HAND_ROUND, rounds=[current]),
            ),
            "round_results (with last year)": (
                lambda: _service(lambda: round_results(current)),
                lambda: _hand(HAND_ROUND, rounds=[current, previous or current]),
            ),
            "compliance_trend (10 years)": (
                lambda: _service(lambda: compliance_trend(years=10)),
                lambda: _hand(HAND_TREND),
            ),
        }
        for name, (service, hand) in pairs.items():
            hand_t, service_t = timed_pair(hand, service, repeat)
            out[name] = {
                "service_s": service_t["median"],
                "hand_s": hand_t["median"],
                "ratio": service_t["median"] / hand_t["median"],
            }
        db.session.remove()
        db.engine.dispose()
    return out
