"""The scheduler process: ``flask --app wsgi scheduler run`` and ``... scheduler tick``.

``run`` is the one long-running process of an installation (docs/scheduler.md): an APScheduler
``BlockingScheduler`` on Tokyo's clock calling ``tick`` every minute (coalesced: a tick missed
while the previous one ran is run once, never twice; never two at once). Web workers never
build a scheduler: nothing here runs unless one of these commands is called.

``tick`` is the caller of ``app.services.operations.schedule``: like a CLI command it commits, once
after planning, once per claimed batch, and once per message sent, so that a crash between two sends
leaves every message already sent marked ``sent``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app

from app.cli_help import N_, Group
from app.extensions import db
from app.models import utcnow
from app.services.operations.mail import (
    CONNECTION_ERRORS,
    MESSAGE_ERRORS,
    Mailer,
    MailSettings,
    Outgoing,
    SmtpMailer,
    build_message,
)
from app.services.operations.schedule import (
    Due,
    PlanReport,
    claim,
    due_now,
    kind_label,
    mark_failed,
    mark_sent,
    plan,
    render,
)

log = logging.getLogger("kijun.scheduler")

scheduler_cli = Group("scheduler", help=N_("調査のお知らせ・催促メールを送るスケジューラー。"))


@dataclass
class TickResult:
    """What one tick did (or, with ``dry_run``, would do)."""

    plan: PlanReport
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    smtp_error: str | None = None
    due: list[Due] = field(default_factory=list)


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
    now: datetime | None = None, *, mailer: Mailer | None = None, dry_run: bool = False
) -> TickResult:
    """One reconciling tick: plan the mail the clock calls for, then send what is due.

    ``now`` fixes the clock for the whole tick (tests, ``--now``); without it each step reads
    the clock afresh. ``dry_run`` plans inside a transaction that is rolled back and returns
    the messages that would be sent in ``due``, sending nothing. Needs an app context.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
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
    mailer = mailer or SmtpMailer(MailSettings.from_config(current_app.config))
    batch_size = int(current_app.config["MAIL_BATCH_SIZE"])
    while True:
        try:
            ids = claim(clock(), batch_size)
            db.session.commit()
            outgoing = render(ids, clock())
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        if not ids:
            break
        result.skipped += len(ids) - len(outgoing)
        if outgoing and not _send(outgoing, mailer, clock, result):
            break  # the server is unreachable: the rest waits for the next tick
    return result


def _send(
    outgoing: list[Outgoing], mailer: Mailer, clock: Callable[[], datetime], result: TickResult
) -> bool:
    """Send a batch over one connection, marking each message as it goes; False when the
    connection failed (the batch's unsent messages are then marked failed)."""
    sender = str(current_app.config["MAIL_FROM"])
    done: set[int] = set()
    try:
        with mailer.connect() as connection:
            for mail in outgoing:
                try:
                    connection.send(build_message(mail, sender, clock()))
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


def build_scheduler(app: Flask, lock: SchedulerLock | None = None) -> Any:
    """A BlockingScheduler (Asia/Tokyo) with the tick every SCHEDULER_INTERVAL_SECONDS,
    coalesced, one instance at a time, the first one at once."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="Asia/Tokyo")
    state = {"lock_lost": False}

    def job() -> None:
        with app.app_context():
            if lock is not None and not lock.alive():
                log.error("lost the database connection holding the scheduler lock; stopping")
                state["lock_lost"] = True
                scheduler.shutdown(wait=False)
                return
            result = tick()
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
    return scheduler


# --- Commands --------------------------------------------------------------------------------


@scheduler_cli.command(
    "run",
    help=N_(
        "止めるまでスケジューラーを動かす: 1分ごとに1回処理する（1つの設置に1プロセス）。\n\n"
        "PostgreSQL では2つ目を起動しても、1つ目が止まるまで待つ（アドバイザリーロック）。"
        "SQLite では1つだけ動かすこと。SIGTERM か Ctrl-C で止まる。ロックを持つデータベース接続"
        "が切れたら終了コード 1 で終わり、systemd が起動し直す。"
    ),
)
def scheduler_run_command() -> None:
    """Run the scheduler until stopped: a tick every minute (one process per installation).

    On PostgreSQL a second instance waits for the first to stop (advisory lock) instead of
    running beside it; on SQLite run one only. Stops on SIGTERM or Ctrl-C; exits with status 1
    if the database connection holding the lock is lost, for systemd to start it again.
    """
    # The real app behind the proxy (for the loop outside any context); Flask types current_app
    # as the app itself, not as the Werkzeug LocalProxy that has _get_current_object.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    lock = SchedulerLock(db.engine, int(app.config["SCHEDULER_LOCK_KEY"]))
    if not lock.supported:
        click.echo("SQLite では、スケジューラーは1つだけ動かしてください（docs/scheduler.md）。")
    lock.acquire(
        on_wait=lambda: click.echo("別のスケジューラーが動いています。止まるまで待ちます…")
    )
    try:
        scheduler = build_scheduler(app, lock)
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
        click.echo("スケジューラーを始めます（1分ごと、Asia/Tokyo）。止めるには Ctrl-C。")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
    finally:
        lock.release()
    if scheduler.kijun_state["lock_lost"]:
        raise click.exceptions.Exit(1)


@scheduler_cli.command(
    "tick",
    help=N_(
        "今すぐ1回処理する: 時刻に応じたメールを記録し、送る時が来たものを送る。\n\n"
        "記録・送信したものを表示する。--dry-run は1回の処理で送るはずのメール（調査、種類、職"
        "員番号、氏名、アドレス）をすべて表示し、何も書き込まず送らない。SMTP サーバーにつなが"
        "らなければ終了コード 1（メールは記録に残り、次の処理で送る）。"
    ),
)
@click.option(
    "--dry-run", is_flag=True, help=N_("送るはずのメールを表示するだけで、何も書き込まず送らない。")
)
@click.option(
    "--now",
    "now_text",
    default=None,
    help=N_("この日時になったものとして実行する（例 2026-11-24 09:00、東京時間。確認・試験用）。"),
)
def scheduler_tick_command(dry_run: bool, now_text: str | None) -> None:
    """Run one tick now: write the mail the clock calls for and send what is due.

    Prints what was written and sent. ``--dry-run`` prints every message one tick would send
    (round, kind, 職員番号, name, address) and writes and sends nothing. Exits with status 1
    if the SMTP server could not be reached (the messages stay in the ledger for the next
    tick).
    """
    from app.services.rounds.rounds import parse_datetime

    now = None
    if now_text:
        try:
            now = parse_datetime(now_text)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--now") from error
    result = tick(now, dry_run=dry_run)
    for (round_id, kind), count in sorted(result.plan.written.items()):
        verb = "記録します" if dry_run else "記録しました"
        click.echo(f"調査 {round_id}: {kind_label(kind)} {count} 通を{verb}")
    if dry_run:
        # By round, kind and 職員番号: the ledger's order follows how the database inserted
        # the rows, which differs between SQLite and PostgreSQL.
        listed = sorted(result.due, key=lambda d: (d.round_id, d.kind, d.employee_id, d.ledger_id))
        for due in listed:
            click.echo(
                f"送信予定  調査 {due.round_id}  {kind_label(due.kind)}  "
                f"{due.employee_id} {due.name} <{due.email}>"
                + (f"（{due.attempts + 1} 回目）" if due.attempts else "")
            )
        click.echo(f"送信予定 {len(result.due)} 通（確認のみ: 何も書き込まず、送っていません）")
        return
    click.echo(f"送信 {result.sent} 通・失敗 {result.failed} 通・送らない {result.skipped} 通")
    if result.smtp_error:
        click.echo(f"メールサーバーに送れませんでした: {result.smtp_error}", err=True)
        raise click.exceptions.Exit(1)
