"""``flask --app wsgi scheduler run|tick``: the scheduler process, and one tick by hand.

The process itself (the tick, the APScheduler set-up and the lock) is ``app/scheduler.py``.
"""

from __future__ import annotations

import logging
import signal

import click
from flask import Flask, current_app

from app.cli.help import N_, Group
from app.extensions import db
from app.scheduler import SchedulerLock, build_scheduler, stop_scheduler, tick
from app.services.operations.schedule import kind_label

scheduler_cli = Group("scheduler", help=N_("調査のお知らせ・催促メールを送るスケジューラー。"))

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
        signal.signal(signal.SIGTERM, lambda *_: stop_scheduler(scheduler, wait=False))
        click.echo("スケジューラーを始めます（1分ごと、Asia/Tokyo）。止めるには Ctrl-C。")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            # A tick under way ends after the batch it is sending (the exit waits for it).
            scheduler.kijun_stopping.set()
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
