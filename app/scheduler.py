"""The scheduler process behind ``flask --app wsgi scheduler run`` and ``... scheduler tick``
(the commands: app/cli/scheduler.py).

``run`` is the one long-running process of an installation (docs/scheduler.md): an APScheduler
``BlockingScheduler`` on Tokyo's clock calling ``tick`` every minute (coalesced: a tick missed
while the previous one ran is run once, never twice; never two at once). Web workers never
build a scheduler: nothing here runs unless one of those commands is called.

``tick`` is the caller of ``app.services.operations.schedule``: like a CLI command it commits, once
after planning, once per claimed batch, and once per message sent, so that a crash between two sends
leaves every message already sent marked ``sent``. Each tick first records a heartbeat
(``app.services.operations.heartbeat``: at its start, after each batch and at its end, what the
admin pages and ``/readyz/scheduler`` read), then removes the roster uploads that waited more
than a day for their confirmation (``sweep_uploads``). The mail goes to the SMTP server, or to
the demo's files when ``DEMO_MAILBOX`` is on (``mailer_for``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _

from app.extensions import db
from app.models import utcnow
from app.services.identity.links import record_issued
from app.services.operations import heartbeat
from app.services.operations.mail import (
    CONNECTION_ERRORS,
    MESSAGE_ERRORS,
    Mailer,
    Outgoing,
    build_message,
    mailer_for,
)
from app.services.operations.schedule import Due, PlanReport, due_now, plan
from app.services.operations.sending import claim, mark_failed, mark_sent, render
from app.services.organisation.roster_upload import sweep_uploads

log = logging.getLogger("kijun.scheduler")


@dataclass
class TickResult:
    """What one tick did (or, with ``dry_run``, would do)."""

    plan: PlanReport
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    smtp_error: str | None = None
    due: list[Due] = field(default_factory=list)
    links: Counter[int] = field(default_factory=Counter)  # sign-in links made, by round


def _audit_plan(report: Any) -> None:
    """The audit log's rows for what a tick changed (actor None: the scheduler): one per round
    whose mail it planned (messages by kind) and one per round whose counts it wrote. Ticks that
    change nothing write nothing; each sent message is in the ledger itself."""
    from app.models import Round
    from app.services.governance import audit

    planned: dict[int, dict[str, int]] = {}
    for (round_id, kind), count in report.written.items():
        planned.setdefault(round_id, {})[kind] = count
    for round_id, after in [(r, {"planned": k}) for r, k in sorted(planned.items())] + [
        (r, {"counted": True}) for r in report.counted
    ]:
        round_ = db.session.get(Round, round_id)
        wards = [ward.id for ward in round_.wards] if round_ is not None else []
        audit.record("scheduler.plan", actor=None, target_type="round", target_id=round_id,
                     after=after, ward_id=audit.single_ward(wards))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


def tick(
    now: datetime | None = None,
    *,
    mailer: Mailer | None = None,
    dry_run: bool = False,
    stopping: Callable[[], bool] | None = None,
) -> TickResult:
    """One reconciling tick: plan the mail the clock calls for, then send what is due.

    ``now`` fixes the clock for the whole tick (tests, ``--now``); without it each step reads
    the clock afresh. ``dry_run`` plans inside a transaction that is rolled back and returns
    the messages that would be sent in ``due``, sending nothing. ``stopping``: asked after
    each batch; once it says so, the tick ends there and the rest waits for the next tick
    (Ctrl-C or a stop of the service does not wait for a long send). Needs an app context.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    if not dry_run:
        _beat(heartbeat.tick_started)
        _sweep_uploads(clock())
    try:
        report = plan(clock())
        if dry_run:
            due = due_now(clock())
            db.session.rollback()
            return TickResult(report, due=due)
        _audit_plan(report)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    result = TickResult(report)
    mailer = mailer or mailer_for(current_app.config, current_app.instance_path)
    batch_size = int(current_app.config["MAIL_BATCH_SIZE"])
    _send_due(clock, mailer, batch_size, result, stopping or (lambda: False))
    _audit_links(result)
    _beat(heartbeat.tick_finished)
    return result


def _beat(record: Callable[[], None]) -> None:
    """Write one heartbeat (``app.services.operations.heartbeat``) and commit it."""
    try:
        record()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _send_due(
    clock: Callable[[], datetime],
    mailer: Mailer,
    batch_size: int,
    result: TickResult,
    stopping: Callable[[], bool],
) -> None:
    """Claim, render and send what is due, batch by batch, with a heartbeat after each; no
    further batch once ``stopping()`` is true."""
    while True:
        try:
            ids = claim(clock(), batch_size)
            db.session.commit()
            issued: Counter[int] = Counter()
            outgoing = render(ids, clock(), issued)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        result.links.update(issued)
        if not ids:
            break
        result.skipped += len(ids) - len(outgoing)
        sent_before = result.sent
        reachable = not outgoing or _send(outgoing, mailer, clock, result)
        _beat(partial(heartbeat.batch_sent, result.sent - sent_before))
        if not reachable or stopping():
            break  # the server is unreachable, or we are stopping: the rest waits


def _sweep_uploads(now: datetime) -> None:
    """Remove the roster uploads older than a day (``app.services.organisation.roster_upload``);
    a folder this process may not read is logged and never stops the mail."""
    try:
        sweep_uploads(now)
    except OSError as error:
        log.warning("roster uploads not swept: %s", _describe(error))


def _built(
    outgoing: list[Outgoing], sender: str, clock: Callable[[], datetime], result: TickResult
) -> list[tuple[Outgoing, EmailMessage]]:
    """The batch's messages as they will be sent. One that cannot be built (a line break in
    a round's title or a section's name would end its Subject header: ``email`` refuses it)
    is marked failed with the reason, tried again after the back-off, and logged; every other
    message of the batch still goes."""
    built: list[tuple[Outgoing, EmailMessage]] = []
    for mail in outgoing:
        try:
            built.append((mail, build_message(mail, sender, clock())))
        except ValueError as error:
            reason = _("メールを組み立てられません。調査の題名、氏名、課の名前などに改行や"
                       "制御文字がないか確かめてください。")
            mark_failed([mail.ledger_id], clock(), f"{reason} {_describe(error)}")
            result.failed += 1
            log.warning("mail ledger row %d cannot be built: %s", mail.ledger_id,
                        _describe(error))
    db.session.commit()
    return built


def _audit_links(result: TickResult) -> None:
    """The audit log's row per round whose sign-in links this tick made, with how many
    (``links.record_issued``; never a token)."""
    if result.links:
        try:
            record_issued(result.links)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise


def _send(
    outgoing: list[Outgoing], mailer: Mailer, clock: Callable[[], datetime], result: TickResult
) -> bool:
    """Send a batch over one connection, marking each message as it goes; False when the
    connection failed (the batch's unsent messages are then marked failed)."""
    sender = str(current_app.config["MAIL_FROM"])
    built = _built(outgoing, sender, clock, result)
    done: set[int] = {mail.ledger_id for mail in outgoing} - {m.ledger_id for m, _m in built}
    if not built:
        return True
    try:
        with mailer.connect() as connection:
            for mail, message in built:
                try:
                    connection.send(message)
                except MESSAGE_ERRORS as error:
                    mark_failed([mail.ledger_id], clock(), _describe(error))
                    result.failed += 1
                else:
                    mark_sent(mail.ledger_id, clock())
                    result.sent += 1
                db.session.commit()
                done.add(mail.ledger_id)
    except CONNECTION_ERRORS as error:
        db.session.rollback()
        rest = [m.ledger_id for m in outgoing if m.ledger_id not in done]
        mark_failed(rest, clock(), _describe(error))
        db.session.commit()
        result.failed += len(rest)
        result.smtp_error = _describe(error)
        log.warning("SMTP: %s; %d message(s) will be tried again", result.smtp_error, len(rest))
        return False
    except BaseException:
        db.session.rollback()
        raise
    return True


# --- One scheduler per installation -------------------------------------------------------------


class SchedulerLock:
    """PostgreSQL: a session-level advisory lock held on a dedicated connection for the life
    of the process, so that a second ``scheduler run`` waits instead of running jobs twice.
    SQLite has no such lock: run one scheduler process only (docs/scheduler.md)."""

    def __init__(self, engine: sa.Engine, key: int) -> None:
        self.engine = engine
        self.key = key
        self.connection: sa.Connection | None = None

    @property
    def supported(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def acquire(self, wait: bool = True, on_wait: Callable[[], None] | None = None) -> bool:
        """Take the lock; if another process holds it, call ``on_wait`` and block until it is
        released (or return False at once when ``wait`` is False)."""
        if not self.supported:
            return True
        self.connection = self.engine.connect()
        got = self.connection.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
        if not got:
            if not wait:
                self.connection.rollback()
                self.connection.close()
                self.connection = None
                return False
            if on_wait is not None:
                on_wait()
            self.connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        self.connection.commit()  # a session-level lock outlives the transaction
        return True

    def alive(self) -> bool:
        """Whether the connection holding the lock (and so the lock) is still there."""
        if not self.supported:
            return True
        if self.connection is None:
            return False
        try:
            self.connection.execute(sa.text("SELECT 1"))
            self.connection.commit()
        except sa.exc.DBAPIError:
            return False
        return True

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self.connection.commit()
        except sa.exc.DBAPIError:
            pass  # the session is gone, and its lock with it
        finally:
            self.connection.close()
            self.connection = None


def build_scheduler(
    app: Flask, lock: SchedulerLock | None = None, *, background: bool = False
) -> Any:
    """A BlockingScheduler (Asia/Tokyo) with the tick every SCHEDULER_INTERVAL_SECONDS,
    coalesced, one instance at a time, the first one at once. ``background``: a
    BackgroundScheduler instead (its own thread), for ``flask demo serve`` only: the web
    app's factory never builds one."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone="Asia/Tokyo")
    state = {"lock_lost": False}
    stopping = threading.Event()  # set by ``stop_scheduler``

    def job() -> None:
        with app.app_context():
            if lock is not None and not lock.alive():
                log.error("lost the database connection holding the scheduler lock; stopping")
                state["lock_lost"] = True
                scheduler.shutdown(wait=False)
                return
            result = tick(stopping=stopping.is_set)
            log.info(
                "tick: wrote %d, sent %d, failed %d, skipped %d",
                sum(result.plan.written.values()),
                result.sent,
                result.failed,
                result.skipped,
            )

    scheduler.add_job(
        job,
        "interval",
        seconds=int(app.config["SCHEDULER_INTERVAL_SECONDS"]),
        id="tick",
        name="kijun tick",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        next_run_time=utcnow(),
    )
    scheduler.kijun_state = state
    scheduler.kijun_stopping = stopping
    return scheduler


def stop_scheduler(scheduler: Any, *, wait: bool) -> None:
    """Stop a scheduler of ``build_scheduler``: a tick under way ends once the batch it is
    sending is sent (the rest waits for the next start), and no tick starts again; ``wait``:
    return only when that tick has ended."""
    scheduler.kijun_stopping.set()
    scheduler.shutdown(wait=wait)
