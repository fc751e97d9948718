"""Benchmark 3: xlsx and PDF export of the city-wide table, time and peak memory.

Each export runs in a fresh subprocess (``python -m bench.exports URL FORMAT``) so that its
peak memory is its own: ``tracemalloc``'s peak of the Python allocations made by building the
table and the file, and the growth of the process's maximum resident set
(``resource.getrusage``) over what the imports had already reached.
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from bench.common import ROOT


def measure(database_url: str, fmt: str) -> dict[str, Any]:
    """In this process: build the round's city-wide table and write it as ``fmt``."""
    import sqlalchemy as sa

    from app import create_app
    from app.extensions import db
    from app.services.results.exports import round_table
    from reports.printing import compliance_pdf
    from reports.xlsx import compliance_workbook

    app = create_app({"SECRET_KEY": "bench-only-secret", "SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        round_id = db.session.execute(
            sa.text("SELECT id FROM round WHERE closes_at <= now() "
                    "ORDER BY fiscal_year DESC LIMIT 1")
        ).scalar_one()
        # Warm up the libraries (fonts, templates) on a first export, outside the measure.
        build = compliance_workbook if fmt == "xlsx" else compliance_pdf
        build(round_table(round_id), io.BytesIO())
        db.session.rollback()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        start = time.perf_counter()
        out = io.BytesIO()
        build(round_table(round_id), out)
        seconds = time.perf_counter() - start
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        db.session.remove()
        db.engine.dispose()
    return {
        "format": fmt,
        "seconds": seconds,
        "python_peak_mb": peak / 1024 / 1024,
        "rss_growth_mb": (rss_after - rss_before) / 1024,
        "rss_max_mb": rss_after / 1024,
        "bytes": len(out.getvalue()),
    }


def run(database_url: str, formats: tuple[str, ...] = ("xlsx", "pdf")) -> dict[str, Any]:
    """Each format measured in its own subprocess."""
    results = {}
    for fmt in formats:
        done = subprocess.run(
            [sys.executable, "-m", "bench.exports", database_url, fmt],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )
        results[fmt] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
