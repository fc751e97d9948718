"""Is the scheduler running? Its heartbeat, and what the pages and monitoring read from it.

Every tick (``app.scheduler.tick``) records a heartbeat in the one row of
``scheduler_heartbeat``: at its start (``tick_started``), after each batch it sends
(``batch_sent``) and at its end (``tick_finished``), with the host and process id that wrote it
and, once the SMTP server accepted a message, ``last_mail_at``. The heartbeat takes the wall
clock, never the tick's ``now`` (a ``--now`` tick still ran now).

``scheduler_status`` reads it: the scheduler is **stale** when no heartbeat is younger than
``SCHEDULER_STALE_SECONDS`` (300: five minutes, five ticks). The admin pages then show a banner
naming the command and the service to start, the pages that queue mail say that it waits for the
scheduler instead of promising a minute (``mail_goes_out_soon``), and ``/readyz/scheduler``
answers 503 (docs/scheduler.md, docs/deploy.md). Functions flush, never commit.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import SchedulerHeartbeat, utcnow

HEARTBEAT_ID = 1  # the one row
# Shown on the banner: the command of a checkout, the service of an installation.
RUN_COMMAND = "flask --app wsgi scheduler run"
SERVICE_COMMAND = "systemctl start kijun-scheduler"


def _upsert(values: dict[str, Any], *, on_update: dict[str, Any]) -> None:
    """Insert the row with ``values``, or update it with ``on_update`` (one statement, so
    two ticks at once never both insert)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SchedulerHeartbeat).values(id=HEARTBEAT_ID, **values)
    db.session.execute(
        statement.on_conflict_do_update(index_elements=["id"], set_=on_update)
    )


def _process() -> dict[str, Any]:
    return {"host": socket.gethostname()[:255], "pid": os.getpid()}


def tick_started(now: datetime | None = None) -> None:
    """A tick of this process begins (the caller commits)."""
    at = now or utcnow()
    values = {"tick_started_at": at, "beat_at": at, **_process()}
    _upsert(values, on_update=values)


def batch_sent(sent: int, now: datetime | None = None) -> None:
    """A batch went out: a sign of life, and the time of the last message if one was
    accepted (the caller commits)."""
    at = now or utcnow()
    update: dict[str, Any] = {"beat_at": at, **_process()}
    if sent:
        update["last_mail_at"] = at
    _upsert({"tick_started_at": at, **update}, on_update=update)


def tick_finished(now: datetime | None = None) -> None:
    """The tick ended (the caller commits)."""
    at = now or utcnow()
    update = {"tick_finished_at": at, "beat_at": at, **_process()}
    _upsert({"tick_started_at": at, **update}, on_update=update)


@dataclass(frozen=True)
class SchedulerStatus:
    """What the heartbeat says at ``now``: the times (None when no tick ever ran), who wrote
    it, and whether the scheduler is stale (no heartbeat for ``stale_after``)."""

    now: datetime
    stale_after: timedelta
    beat_at: datetime | None = None
    tick_started_at: datetime | None = None
    tick_finished_at: datetime | None = None
    last_mail_at: datetime | None = None
    host: str | None = None
    pid: int | None = None

    @property
    def never_ran(self) -> bool:
        return self.beat_at is None

    @property
    def stale(self) -> bool:
        """No tick for ``stale_after`` (or never): mail waits in the ledger."""
        return self.beat_at is None or self.now - self.beat_at > self.stale_after

    @property
    def seconds_since_beat(self) -> int | None:
        return None if self.beat_at is None else int((self.now - self.beat_at).total_seconds())

    @property
    def run_command(self) -> str:
        return RUN_COMMAND

    @property
    def service_command(self) -> str:
        return SERVICE_COMMAND


def stale_after() -> timedelta:
    """``SCHEDULER_STALE_SECONDS``: how long without a tick before the scheduler is stale."""
    return timedelta(seconds=int(current_app.config["SCHEDULER_STALE_SECONDS"]))


def scheduler_status(now: datetime | None = None) -> SchedulerStatus:
    """The heartbeat as of ``now`` (one primary-key query)."""
    at = now or utcnow()
    row = db.session.get(SchedulerHeartbeat, HEARTBEAT_ID)
    if row is None:
        return SchedulerStatus(at, stale_after())
    return SchedulerStatus(
        at,
        stale_after(),
        beat_at=row.beat_at,
        tick_started_at=row.tick_started_at,
        tick_finished_at=row.tick_finished_at,
        last_mail_at=row.last_mail_at,
        host=row.host,
        pid=row.pid,
    )


def mail_goes_out_soon(now: datetime | None = None) -> bool:
    """Whether mail queued now goes out at the next tick (a minute): the scheduler ticked
    within ``SCHEDULER_STALE_SECONDS``. Pages that queue mail say so, or that it waits."""
    return not scheduler_status(now).stale


def monitoring_document(status: SchedulerStatus) -> dict[str, Any]:
    """``/readyz/scheduler``'s JSON: the state, the times (ISO 8601, UTC) and the limit.
    Names no host or process (the endpoint needs no sign-in)."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    state = "never" if status.never_ran else "stale" if status.stale else "ok"
    return {
        "scheduler": state,
        "last_beat_at": iso(status.beat_at),
        "last_tick_started_at": iso(status.tick_started_at),
        "last_tick_finished_at": iso(status.tick_finished_at),
        "last_mail_at": iso(status.last_mail_at),
        "seconds_since_beat": status.seconds_since_beat,
        "stale_after_seconds": int(status.stale_after.total_seconds()),
    }


def read_status_safely(now: datetime | None = None) -> SchedulerStatus | None:
    """``scheduler_status``, or None when the database cannot be read (the monitoring
    endpoint then answers 503 instead of an error page)."""
    try:
        return scheduler_status(now)
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return None
