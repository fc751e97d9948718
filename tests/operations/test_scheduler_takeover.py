"""Two ``scheduler run`` processes on PostgreSQL: one holds the advisory lock and ticks, the
other waits; killed, the holder's lock goes with its connection and the other takes over within
two ticks, and every message reaches a real SMTP server (aiosmtpd) exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import MailLedger, MailState, Person, SchedulerHeartbeat, Section
from tests import factories
from tests.operations.test_scheduler import SmtpServer

PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 5  # seconds between ticks (SCHEDULER_INTERVAL_SECONDS)
WAIT_BOUND = 240  # seconds any step may take before the test gives up (not a timing)

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="the scheduler's lock is a PostgreSQL advisory lock; SQLite has none "
    "and runs one scheduler only (docs/scheduler.md)"
)


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _wait_for(what: str, condition: Callable[[], bool], logs: list[Path]) -> None:
    """Poll ``condition`` until it holds; fail (with the processes' logs) after WAIT_BOUND."""
    deadline = time.monotonic() + WAIT_BOUND
    while not condition():
        if time.monotonic() > deadline:
            told = "\n".join(log.read_text(encoding="utf-8") for log in logs)
            pytest.fail(f"gave up waiting for {what}:\n{told}")
        time.sleep(0.1)


def _heartbeat(app) -> SchedulerHeartbeat | None:
    with app.app_context():
        row = db.session.get(SchedulerHeartbeat, 1)
        db.session.expunge_all()
        return row


def _sent(app) -> int:
    with app.app_context():
        return int(db.session.scalar(
            sa.select(sa.func.count()).select_from(MailLedger)
            .where(MailLedger.state == MailState.SENT)
        ) or 0)


def _people(app, section_id: int, count: int) -> list[str]:
    with app.app_context():
        section = db.session.get_one(Section, section_id)
        added = [factories.person(section=section, fiscal_year=FY) for _ in range(count)]
        db.session.commit()
        return [p.email or "" for p in added]


now = datetime.now(UTC)
FY = now.year if now.month >= 4 else now.year - 1


def test_killing_the_lock_holder_hands_the_mail_to_the_other_scheduler(app, smtp, tmp_path):
    """Kill -9 the `scheduler run` that holds the lock: the waiting one takes the lock and
    ticks within two intervals, sends the mail that became due since, and no message is sent
    twice or lost (counted at aiosmtpd)."""
    with app.app_context():
        section = factories.section("総務課")
        factories.round_(
            factories.catalogue("takeover", fiscal_year=FY),
            opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=10),
            fiscal_year=FY,
        )
        db.session.commit()
        section_id = section.id
    expected = _people(app, section_id, 25)
    assert PG_URL is not None
    env = {
        **os.environ,
        "FLASK_SECRET_KEY": "test-secret",
        "DATABASE_URL": PG_URL,
        "FLASK_MAIL_HOST": "127.0.0.1",
        "FLASK_MAIL_PORT": str(smtp.port),
        "FLASK_MAIL_BATCH_SIZE": "7",
        "FLASK_SCHEDULER_INTERVAL_SECONDS": str(INTERVAL),
        "FLASK_SCHEDULER_LOCK_KEY": str(random.randint(1, 2**31)),
        "FLASK_ROSTER_UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for log in logs:
            with log.open("w") as out:
                processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                                  stderr=subprocess.STDOUT))
        pids = {p.pid for p in processes}
        # Whoever ticks holds the lock; the other says it waits.
        _wait_for("a first tick", lambda: (_heartbeat(app) or _NoBeat).pid in pids, logs)
        holder_pid = (_heartbeat(app) or _NoBeat).pid
        holder = next(p for p in processes if p.pid == holder_pid)
        waiting = next(p for p in processes if p.pid != holder_pid)
        waiting_log = logs[processes.index(waiting)]
        _wait_for("the second to wait", lambda: "別のスケジューラーが動いています"
                  in waiting_log.read_text(encoding="utf-8"), logs)
        _wait_for("the opened mail", lambda: len(smtp.inbox.recipients()) == len(expected)
                  and _sent(app) == len(expected), logs)
        _wait_for("the holder's tick to end", lambda: _tick_ended(app), logs)

        killed_at = datetime.now(UTC)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
        expected += _people(app, section_id, 10)  # their opened mail falls due now

        _wait_for("the other to tick", lambda: (_heartbeat(app) or _NoBeat).pid == waiting.pid,
                  logs)
        took_over = _heartbeat(app)
        assert took_over is not None
        assert took_over.tick_started_at - killed_at <= timedelta(seconds=2 * INTERVAL)
        _wait_for("the new people's mail", lambda: _sent(app) == len(expected), logs)
        assert waiting.poll() is None  # still running, now holding the lock
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    assert smtp.inbox.recipients() == sorted(expected)  # each message exactly once
    with app.app_context():
        assert {r.state for r in db.session.scalars(sa.select(MailLedger))} == {MailState.SENT}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Person)) == len(expected)


class _NoBeat:
    pid = None


def _tick_ended(app) -> bool:
    row = _heartbeat(app)
    return bool(row and row.tick_finished_at and row.tick_finished_at >= row.tick_started_at)
