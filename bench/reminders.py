"""Benchmark 4: one reminder tick for every non-respondent of a city-sized round, sent to a
local SMTP sink.

Set-up: a round over the whole roster of the latest fiscal year, nobody answered, the
"opened" mail already sent, and the clock 2½ days before the close. One tick then writes the
3-day reminder for every person and a digest for each chief, and sends them all. The tick runs
in its own process (``python -m bench.reminders tick ...``) so that its peak memory is its own,
and the sink (``bench/smtp_sink.py``) in another, so that receiving does not slow the sender.

Baseline, measured in the same run: the same number of messages, of the same average size,
sent by plain ``smtplib`` over the same number of connections to the same sink: the cost of
SMTP itself. The ratio is the tick's time ÷ the baseline's. Afterwards the round and its send
ledger are deleted.
"""

from __future__ import annotations

import json
import resource
import smtplib
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from bench.common import ROOT

OPENS = datetime(2001, 11, 1, tzinfo=UTC)  # long before the generated rounds
CLOSES = datetime(2001, 11, 29, 8, 15, tzinfo=UTC)
NOW = CLOSES - timedelta(days=2, hours=12)  # the 3-day reminder is due
SENDER = "Kijun <kijun@bench.example>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """bench.smtp_sink in a subprocess."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> dict[str, Any]:
        out, _ = self.proc.communicate("stop\n", timeout=120)
        return dict(json.loads(out.strip().splitlines()[-1]))


def _set_up(engine: sa.Engine) -> dict[str, Any]:
    with engine.begin() as conn:
        # People without an address would be skipped, not mailed: give them one.
        conn.execute(sa.text(
            "UPDATE person SET email = 'p' || employee_id || '@bench.example' "
            "WHERE email IS NULL"))
        year = conn.execute(sa.text("SELECT max(fiscal_year) FROM assignment")).scalar_one()
        round_id = conn.execute(sa.text(
            "INSERT INTO round (title, catalogue_id, fiscal_year, opens_at, closes_at, "
            "created_at, reminder_days) SELECT 'ベンチ 通知', id, :y, :o, :c, now(), '7,3,1' "
            "FROM catalogue WHERE fiscal_year = :y ORDER BY id LIMIT 1 RETURNING id"),
            {"y": year, "o": OPENS, "c": CLOSES}).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO round_ward (round_id, ward_id) SELECT :r, id FROM ward"),
            {"r": round_id})
        people = conn.execute(sa.text(
            "INSERT INTO mail_ledger (round_id, person_id, kind, state, attempts, created_at, "
            "sent_at) SELECT :r, person_id, 'opened', 'sent', 1, :o, :o FROM assignment "
            "WHERE fiscal_year = :y"), {"r": round_id, "y": year, "o": OPENS}).rowcount
        chiefs = conn.execute(sa.text(
            "SELECT count(*) FROM assignment WHERE fiscal_year = :y AND role = 'chief'"),
            {"y": year}).scalar_one()
    return {"round_id": round_id, "non_respondents": people, "chiefs": chiefs}


def _ledger(engine: sa.Engine, round_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT split_part(kind, ':', 1) || ':' || state, count(*) FROM mail_ledger "
            "WHERE round_id = :r AND kind <> 'opened' GROUP BY 1"), {"r": round_id}).all()
    return {key: int(n) for key, n in rows}


def _tear_down(engine: sa.Engine, round_id: int) -> None:
    with engine.begin() as conn:
        for table in ("mail_ledger", "round_ward"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE round_id = :r"),  # noqa: S608
                         {"r": round_id})
        conn.execute(sa.text("DELETE FROM round WHERE id = :r"), {"r": round_id})


def _in_subprocess(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.reminders", *args], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(database_url: str) -> dict[str, Any]:
    """Set up, tick once against a sink, send the baseline against a fresh sink, check that
    every non-respondent got exactly one reminder and each chief one digest, clean up."""
    engine = sa.create_engine(database_url)
    setup = _set_up(engine)
    try:
        sink = Sink()
        try:
            tick = _in_subprocess("tick", database_url, str(sink.port), str(setup["round_id"]))
        finally:
            received = sink.stop()
        ledger = _ledger(engine, setup["round_id"])
        average_bytes = int(received["bytes"] / max(received["messages"], 1))
        sink = Sink()
        try:
            baseline = _in_subprocess("baseline", str(sink.port), str(received["messages"]),
                                      str(tick["batch_size"]), str(average_bytes))
        finally:
            baseline_received = sink.stop()
    finally:
        _tear_down(engine, setup["round_id"])
        engine.dispose()
    expected = setup["non_respondents"] + setup["chiefs"]
    return {
        "available": True,
        **setup,
        "seconds": tick["seconds"],
        "python_peak_mb": tick["python_peak_mb"],
        "rss_growth_mb": tick["rss_growth_mb"],
        "sent": tick["sent"],
        "failed": tick["failed"],
        "messages": received["messages"],
        "connections": received["connections"],
        "distinct_recipients": received["distinct_recipients"],
        "average_bytes": average_bytes,
        "ledger": ledger,
        "exact": (
            received["messages"] == expected
            and ledger.get("reminder:sent") == setup["non_respondents"]
            and ledger.get("digest:sent") == setup["chiefs"]
            and received["distinct_recipients"] == setup["non_respondents"]
        ),
        "baseline_seconds": baseline["seconds"],
        "baseline_connections": baseline_received["connections"],
        "ratio": tick["seconds"] / baseline["seconds"],
    }


def measure_tick(database_url: str, port: int, round_id: int) -> dict[str, Any]:
    """In this process: one tick at ``NOW`` with the app's SMTP mailer pointed at the sink."""
    import gc

    from app import create_app
    from app.extensions import db
    from app.scheduler import tick

    app = create_app({"SECRET_KEY": "bench-only-secret",
                      "SQLALCHEMY_DATABASE_URI": database_url, "MAIL_HOST": "127.0.0.1",
                      "MAIL_PORT": port, "MAIL_FROM": SENDER,
                      "BASE_URL": "https://kijun.example"})
    gc.freeze()  # as wsgi.py does
    with app.app_context():
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        start = time.perf_counter()
        result = tick(NOW)
        seconds = time.perf_counter() - start
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        batch_size = int(app.config["MAIL_BATCH_SIZE"])
        db.session.remove()
        db.engine.dispose()
    return {"round_id": round_id, "seconds": seconds, "python_peak_mb": peak / 1024 / 1024,
            "rss_growth_mb": (rss_after - rss_before) / 1024, "sent": result.sent,
            "failed": result.failed, "batch_size": batch_size}


def measure_baseline(port: int, messages: int, batch_size: int, size: int) -> dict[str, Any]:
    """Plain smtplib: ``messages`` messages of about ``size`` bytes, ``batch_size`` a
    connection."""
    body = ("本日は締め切りの3日前です。まだ回答していない方は回答してください。\n" * 200)
    start = time.perf_counter()
    sent = 0
    while sent < messages:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for _ in range(min(batch_size, messages - sent)):
                msg = EmailMessage()
                msg["From"] = SENDER
                msg["To"] = f"p{sent}@bench.example"
                msg["Subject"] = "【自己点検】締め切りまであと3日です"
                msg.set_content(body[: max(size // 3, 1)])  # ~3 bytes per Japanese character
                smtp.send_message(msg)
                sent += 1
    return {"seconds": time.perf_counter() - start, "messages": sent}


if __name__ == "__main__":
    if sys.argv[1] == "tick":
        out = measure_tick(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        out = measure_baseline(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                               int(sys.argv[5]))
    print(json.dumps(out))
