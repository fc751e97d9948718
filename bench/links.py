"""Benchmark: the tick that opens a city-sized round, with personal sign-in links and without.

Set-up: a round over the whole roster of the latest fiscal year, opening at ``OPENS`` (long
before the generated rounds, so that no other round is open), no reminder days, and the clock
one minute after the opening. One tick then writes the opening mail for every person to the
send ledger and sends it to a local SMTP sink (``bench/smtp_sink.py``, its own process); with
``SIGN_IN_LINKS`` on, each message carries a new sign-in link (one INSERT per batch,
app/services/identity/links.py), and the tick audits how many. The tick runs in its own process
(``python -m bench.links tick URL PORT ROUND on|off``) and times itself, as bench/reminders.py
does.

The two variants run in turn, off then on, ``repeat`` times, in the same run, the ledger, the
links and the tick's audit rows emptied between runs, so that a change in the machine's load
falls on both. The ratio is the median with links ÷ the median without. Each run checks that
every person got exactly one message, and with links that each message's person has one link.
Afterwards the round is deleted.

    python -m bench.links --database-url postgresql+psycopg://... [--generate 20000] [--repeat 2]

writes bench/results/links-<people>.json and .md (``--generate N`` first builds the dataset with
bench/generate.py, one year: point it at a scratch database only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench.common import ROOT, machine
from bench.reminders import SENDER, Sink

OPENS = datetime(2001, 10, 1, 0, 0, tzinfo=UTC)  # long before the generated rounds
CLOSES = datetime(2001, 10, 31, 8, 15, tzinfo=UTC)
NOW = OPENS + timedelta(minutes=1)


def _set_up(engine: sa.Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        # People without an address would be skipped, not mailed: give them one.
        conn.execute(sa.text(
            "UPDATE person SET email = 'p' || employee_id || '@bench.example' "
            "WHERE email IS NULL"))
        year = conn.execute(sa.text("SELECT max(fiscal_year) FROM assignment")).scalar_one()
        round_id = conn.execute(sa.text(
            "INSERT INTO round (title, catalogue_id, fiscal_year, opens_at, closes_at, "
            "created_at, reminder_days, revision) SELECT 'ベンチ 受付開始', id, :y, :o, :c, "
            "now(), '', 0 FROM catalogue WHERE fiscal_year = :y ORDER BY id LIMIT 1 "
            "RETURNING id"), {"y": year, "o": OPENS, "c": CLOSES}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO round_ward (round_id, ward_id) SELECT :r, id FROM ward"),
            {"r": round_id})
        people = conn.execute(sa.text(
            "SELECT count(*) FROM assignment WHERE fiscal_year = :y"), {"y": year}).scalar_one()
    return {"round_id": round_id, "people": int(people)}


def _reset(engine: sa.Engine, round_id: int) -> None:
    """Empty what a tick wrote for the round: its ledger, its links, its audit rows (the
    newest rows of the log, so the chain stays whole)."""
    with engine.begin() as conn:
        for table in ("mail_ledger", "sign_in_link"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE round_id = :r"),  # noqa: S608
                         {"r": round_id})
        conn.execute(sa.text(
            "DELETE FROM audit_event WHERE target_type = 'round' AND target_id = :r"),
            {"r": str(round_id)})


def _tear_down(engine: sa.Engine, round_id: int) -> None:
    _reset(engine, round_id)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM round_ward WHERE round_id = :r"), {"r": round_id})
        conn.execute(sa.text("DELETE FROM round WHERE id = :r"), {"r": round_id})


def _written(engine: sa.Engine, round_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            "ledger_sent": int(conn.execute(sa.text(
                "SELECT count(*) FROM mail_ledger WHERE round_id = :r AND state = 'sent'"),
                {"r": round_id}).scalar_one()),
            "links": int(conn.execute(sa.text(
                "SELECT count(*) FROM sign_in_link WHERE round_id = :r"),
                {"r": round_id}).scalar_one()),
            "people_with_a_link": int(conn.execute(sa.text(
                "SELECT count(DISTINCT person_id) FROM sign_in_link WHERE round_id = :r"),
                {"r": round_id}).scalar_one()),
        }


def _one_run(engine: sa.Engine, database_url: str, round_id: int, people: int,
             links: bool) -> dict[str, Any]:
    """One tick (in a subprocess) against a fresh sink; what it sent, checked."""
    _reset(engine, round_id)
    sink = Sink()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.links", "tick", database_url, str(sink.port),
             str(round_id), "on" if links else "off"],
            cwd=ROOT, capture_output=True, text=True, check=True)
        tick = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        received = sink.stop()
    written = _written(engine, round_id)
    exact = (
        received["messages"] == people
        and received["distinct_recipients"] == people
        and received["most_to_one_recipient"] == 1
        and written["ledger_sent"] == people
        and written["links"] == (people if links else 0)
        and written["people_with_a_link"] == (people if links else 0)
    )
    return {**tick, **written, "messages": received["messages"],
            "bytes": received["bytes"], "exact": exact}


def run(database_url: str, repeat: int = 1) -> dict[str, Any]:
    """Set up, run the opening tick ``repeat`` times without links and with them, in turn,
    clean up; the medians and their ratio."""
    engine = sa.create_engine(database_url)
    setup = _set_up(engine)
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    try:
        for _ in range(repeat):
            for variant in ("off", "on"):
                runs[variant].append(_one_run(engine, database_url, setup["round_id"],
                                              setup["people"], variant == "on"))
    finally:
        _tear_down(engine, setup["round_id"])
        engine.dispose()
    seconds = {v: statistics.median(r["seconds"] for r in rs) for v, rs in runs.items()}
    cpu = {v: statistics.median(r["cpu_seconds"] for r in rs) for v, rs in runs.items()}
    return {
        "available": True,
        "people": setup["people"],
        "repeat": repeat,
        "seconds_off": seconds["off"],
        "seconds_on": seconds["on"],
        "all_seconds": {v: [r["seconds"] for r in rs] for v, rs in runs.items()},
        "cpu_seconds_off": cpu["off"],
        "cpu_seconds_on": cpu["on"],
        "cpu_ratio": cpu["on"] / cpu["off"],
        "bytes_per_message": {v: rs[0]["bytes"] // max(rs[0]["messages"], 1)
                              for v, rs in runs.items()},
        "links_made": runs["on"][0]["links"],
        "python_peak_mb": {v: max(r["python_peak_mb"] for r in rs) for v, rs in runs.items()},
        "exact": all(r["exact"] for rs in runs.values() for r in rs),
        "ratio": seconds["on"] / seconds["off"],
        "target_met": seconds["on"] / seconds["off"] <= 1.5,
    }


def measure_tick(database_url: str, port: int, round_id: int, links: bool) -> dict[str, Any]:
    """In this process: one tick at ``NOW`` with the app's SMTP mailer pointed at the sink."""
    import gc
    import tracemalloc

    from app import create_app
    from app.extensions import db
    from app.scheduler import tick

    app = create_app({"SECRET_KEY": "bench-only-secret",
                      "SQLALCHEMY_DATABASE_URI": database_url, "MAIL_HOST": "127.0.0.1",
                      "MAIL_PORT": port, "MAIL_FROM": SENDER,
                      "BASE_URL": "https://kijun.example", "SIGN_IN_LINKS": links})
    gc.freeze()  # as wsgi.py does
    with app.app_context():
        tracemalloc.start()
        start, cpu = time.perf_counter(), time.process_time()
        result = tick(NOW)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        db.session.remove()
        db.engine.dispose()
    return {"round_id": round_id, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "python_peak_mb": peak / 1024 / 1024,
            "sent": result.sent, "failed": result.failed,
            "links_in_tick": sum(result.links.values())}


def markdown(report: dict[str, Any]) -> list[str]:
    """The report's lines (bench/run.py's report and this module's own file)."""
    if not report.get("available"):
        return [f"Not run: {report.get('reason')}"]
    runs = {v: ", ".join(f"{s:.1f}" for s in report["all_seconds"][v]) for v in ("off", "on")}
    size = report["bytes_per_message"]
    return [
        f"A round over {report['people']} people opens: one tick writes and sends "
        f"{report['people']} opening mails to a local SMTP sink, {report['repeat']} time(s) "
        "each way, in turn, in the same run. Without links (`SIGN_IN_LINKS = False`): "
        f"{report['seconds_off']:.1f} s (runs: {runs['off']}); with a new link in each "
        f"message ({report['links_made']} links, one INSERT per batch of 100): "
        f"{report['seconds_on']:.1f} s (runs: {runs['on']}). Messages of {size['off']} and "
        f"{size['on']} bytes. With ÷ without: **{report['ratio']:.2f}×** (target ≤ 1.5×: "
        f"{'met' if report['target_met'] else '**not met**'}). The tick process's own CPU: "
        f"{report['cpu_seconds_off']:.1f} s and {report['cpu_seconds_on']:.1f} s, "
        f"{report['cpu_ratio']:.2f}× (the rest of the wall time is waiting for PostgreSQL's "
        "commit after each message and for the SMTP server). Each person got exactly one "
        f"message, and with links exactly one link: **{'yes' if report['exact'] else 'NO'}**.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--generate", type=int, default=0,
                        help="build a dataset of this many people first (one year)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.generate:
        from bench.generate import generate

        generate(args.database_url, args.generate, years=1)
    started = time.strftime("%Y-%m-%d %H:%M:%S %z")
    report = {"started": started, "machine": machine(args.database_url),
              **run(args.database_url, args.repeat),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    out = ROOT / "bench" / "results" / f"links-{report['people']}"
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = [f"# Opening tick with sign-in links ({report['people']} people)", "",
             f"{started} – {report['finished']}; {report['machine']['cpu']}, "
             f"{report['machine']['cores']} cores, PostgreSQL "
             f"{report['machine'].get('postgresql')}, commit {report['machine']['commit']}.", "",
             *markdown(report)]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "tick":
        print(json.dumps(measure_tick(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                                      sys.argv[5] == "on")))
    else:
        main()
