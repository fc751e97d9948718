"""The benchmarks (bench/, docs/benchmarks.md) at a tiny size, so that the scripts cannot rot.

Only the shape of the outputs and the spike's exactness are checked, never a timing.
"""

import os

import pytest

from tests.conftest import PG_URL


def test_healthz_answers_ok_to_anyone(client):
    """GET /healthz answers a plain "ok" without signing in (the benchmarks' baseline)."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"
    assert response.mimetype == "text/plain"


@pytest.mark.skipif(not PG_URL, reason="the benchmarks need PostgreSQL (KIJUN_TEST_DATABASE_URL)")
def test_every_benchmark_runs_at_a_tiny_size_and_the_spike_stores_what_was_sent(tmp_path):
    """Generator and every benchmark run on scratch databases (dropped afterwards), the report
    has every section and ratio (the page's and the submit's beside the floor's too), the spike
    stored exactly the answers sent, the reminder tick mailed each non-respondent once and each
    chief one digest, and the opening tick each person once, with one sign-in link each."""
    import sqlalchemy as sa

    from bench.common import with_database
    from bench.run import markdown, run_all

    assert PG_URL is not None  # else skipped
    prefix = f"kijun_bench_test_{os.getpid()}"
    report = run_all(
        PG_URL, sizes=(60,), years=2, wards=2, sections_per_ward=3, repeat=1,
        http_seconds=0.5, http_repeat=1, workers=2, clients=2, spike_people=10, spike_window=1.0,
        spike_clients=4, stage_requests=5, echo=False, prefix=prefix,
    )
    assert set(report["sizes"]) == {"60"}
    for entry in report["sizes"].values():
        assert entry["counts"]["person"] == 60 and entry["counts"]["answer"] > 0
        assert set(entry["results"]) == {
            "round_results (one round)", "round_results (with last year)",
            "compliance_trend (10 years)",
        }
        for row in entry["results"].values():
            assert row["service_s"] > 0 and row["hand_s"] > 0 and row["ratio"] > 0
        for fmt in ("xlsx", "pdf"):
            assert entry["exports"][fmt]["bytes"] > 0
            assert entry["exports"][fmt]["python_peak_mb"] > 0
    for app in ("checklist", "floor", "bare"):  # Kijun, and the two floors beside it
        endpoints = report[app]["endpoints"]
        assert set(endpoints) == {"GET /healthz", "GET checklist page", "PUT checklist submit"}
        for row in endpoints.values():
            assert row["requests"] > 0 and row["errors"] == 0 and row["ratio"] > 0
        for name in ("GET checklist page", "PUT checklist submit"):  # beside the floor's
            assert endpoints[name]["floor_ratio"] > 0 and endpoints[name]["floor_cpu_ratio"] > 0
    spike = report["spike"]
    assert spike["errors"] == 0 and spike["exact"] is True
    assert spike["submitted_in_db"] == 10
    assert spike["answers_stored"] == spike["answers_sent"] > 0
    for row in report["result_pages"].values():
        assert row["requests"] > 0 and row["errors"] == 0 and row["median_s"] > 0
    memory = report["memory"]
    assert memory["exports"] > 0 and memory["errors"] == 0
    assert len(memory["rss_after_mb"]) == 2 and memory["max_rss_after_mb"] > 0
    reminders = report["reminders"]
    assert reminders["available"] is True and reminders["exact"] is True
    assert reminders["non_respondents"] == 60 and reminders["chiefs"] == 6
    assert reminders["messages"] == reminders["sent"] == 66 and reminders["failed"] == 0
    for kind in ("page", "submit"):
        row = report["stages"][kind]
        assert row["requests"] == 5 and row["ms_per_request"] > 0
        timed = {k: v for k, v in row["parts_ms"].items() if not k.startswith("the rest")}
        assert timed and all(ms > 0 for ms in timed.values()), timed
        assert sum(row["parts_ms"].values()) == pytest.approx(row["ms_per_request"])
    assert reminders["connections"] >= 1 and reminders["ratio"] > 0
    opening = report["links"]
    assert opening["available"] is True and opening["exact"] is True
    assert opening["people"] == opening["links_made"] == 60 and opening["ratio"] > 0
    text = markdown(report)
    for heading in ("## Results and trend", "## How cost grows", "## Checklist under gunicorn",
                    "## Deadline spike", "## Reminder tick", "## Web workers' memory",
                    "## Opening tick with sign-in links",
                    "## The floor of Kijun's extensions", "## The fixed stack's floor",
                    "## Targets"):
        assert heading in text
    assert "exactly what was sent" in text
    assert "Tick ÷ baseline" in text
    engine = sa.create_engine(with_database(PG_URL, "postgres"))
    with engine.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM pg_database WHERE datname LIKE :p"),
            {"p": prefix + "%"},
        ).scalar_one()
    engine.dispose()
    assert left == 0
