"""``flask --app wsgi demo``: the demo ward, its people, catalogues and rounds;
``flask --app wsgi demo serve``: the same, then the app and its scheduler in one process,
with the mail written to the demo's mailbox (docs/scheduler.md, "Trying it")."""

from __future__ import annotations

import signal
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.help import N_, Group


@click.group(
    "demo", cls=Group, invoke_without_command=True,
    help=N_(
        "デモ用の区（高津区がモデル）、職員、カタログ、終了した2回の調査を作る。\n\n"
        "surveys/ のカタログすべて、3年度分の名簿（19課・約350人、異動と退職を含む）、4つのサイ"
        "ンイン用アカウント（職員・所属長・委員会・管理者）、回答つきの令和6年度と令和7年度の調"
        "査を作る。もう一度実行しても、あるデモデータはそのまま使う。\n\n"
        "demo serve は続けて、アプリとスケジューラーを1つのコマンドで動かす（メールは"
        " instance/demo-mail/ と /demo/mail へ）。"
    ),
)
@with_appcontext
def demo_command() -> None:
    """Build the demo ward (modelled on 高津区), its people, the catalogues and two past rounds,
    and the city's six other wards.

    Loads every catalogue in surveys/, three fiscal years of rosters (about 350 people in 19
    sections, with transfers and leavers), four sign-in accounts (staff, chief, committee,
    admin), the closed FY2024 and FY2025 rounds with answers and one round open now without
    answers (to try the checklist). The other six wards are smaller (about 50 people each)
    with closed FY2024 and FY2025 rounds on the city's catalogue; a fifth account (900005) is
    a committee member for the whole city. Run it again and it keeps the demo data that is
    there. ``demo serve`` builds it the same way, then serves the app with its scheduler.
    """
    if click.get_current_context().invoked_subcommand is None:
        _build_and_tell()
        click.echo("起動: flask --app wsgi demo serve  →  http://127.0.0.1:5000"
                   "（サインインは /auth/login、メールは /demo/mail）")


def _build_and_tell() -> None:
    """Build the demo (or find it built), commit, and print what it holds and its accounts."""
    from flask import current_app

    from app.extensions import db
    from app.services.governance import audit
    from app.services.operations.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, build_demo

    summary = build_demo(Path(current_app.config["SURVEYS_DIR"]))
    if summary.already_present:
        click.echo("デモデータは作成済みです。今のデータをそのまま使います。")
    else:
        audit.record("demo.build", actor=None, target_type="demo", target_id=summary.ward,
                     after={"wards": summary.wards, "sections": summary.sections,
                            "people": summary.people, "rounds": summary.rounds})
        db.session.commit()
        click.echo(
            f"デモデータを作りました: {summary.ward}・{summary.sections} 課・"
            f"今年度 {summary.people} 人・調査 {len(summary.rounds)} 回"
        )
        for title in summary.rounds[:-1]:
            click.echo(f"  終了した調査: {title}")
        click.echo(
            f"  受付中の調査: {summary.rounds[-1]}（職員 900001 でサインインしてすぐ答えられます）"
        )
        click.echo(
            f"  ほかの {summary.wards - 1} 区: 終了した調査が2回ずつ"
            "（市全体のページは 900005 でサインインして「結果」から）"
        )
    click.echo("デモ用アカウント（職員番号 / パスワード）:")
    for employee_id, role, note in DEMO_ACCOUNTS:
        click.echo(f"  {role}: {employee_id} / {DEMO_PASSWORD}  …{note}")


@demo_command.command(
    "serve",
    help=N_(
        "デモを試す: アプリを http://127.0.0.1:5000 で動かし、同じプロセスでスケジューラーも"
        "動かす。止めるには Ctrl-C。\n\n"
        "メールは SMTP には送らず、instance/demo-mail/ に1通1ファイル（.eml）で書き、"
        "http://127.0.0.1:5000/demo/mail で読める（DEMO_MAILBOX）。試すためだけのコマンド: 運用"
        "では gunicorn と scheduler run の2つのプロセスにする（docs/deploy.md）。"
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True,
              help=N_("待ち受けるアドレス（このパソコンだけ: 127.0.0.1）。"))
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help=N_("待ち受けるポート。"))
@click.option("--interval", default=10, show_default=True, type=click.IntRange(1, 3600),
              help=N_("スケジューラーの処理の間隔（秒）。"))
@with_appcontext
def demo_serve_command(host: str, port: int, interval: int) -> None:
    """Try the demo: build it (as ``flask demo``), serve the app at http://127.0.0.1:5000 and
    run the scheduler in the same process (a background thread) until Ctrl-C.

    The mail goes to no SMTP server: each message is written to instance/demo-mail/ as an .eml
    file and listed at /demo/mail (DEMO_MAILBOX). For trying only; production runs gunicorn and
    ``scheduler run`` as two processes (docs/deploy.md).
    """
    from flask import current_app
    from werkzeug.serving import run_simple

    from app.extensions import db
    from app.scheduler import SchedulerLock, build_scheduler, stop_scheduler
    from app.services.operations.mail import demo_mail_dir

    # Ctrl-C (SIGINT) stops the demo however it was started: a shell's background job starts
    # with SIGINT ignored, and Python then never turns it into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _build_and_tell()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.config.update(
        DEMO_MAILBOX=True,
        SCHEDULER_INTERVAL_SECONDS=interval,
        BASE_URL=f"http://{host}:{port}",
    )
    lock = SchedulerLock(db.engine, int(app.config["SCHEDULER_LOCK_KEY"]))
    scheduler = None
    if lock.acquire(wait=False):
        scheduler = build_scheduler(app, lock, background=True)
        scheduler.start()
        click.echo(f"スケジューラーを始めました（{interval} 秒ごと）。メールは "
                   f"{demo_mail_dir(app.config, app.instance_path)} と "
                   f"http://{host}:{port}/demo/mail へ。")
    else:
        click.echo("別のスケジューラーが動いているため、ここでは動かしません。")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            stop_scheduler(scheduler, wait=True)  # after the batch being sent, if any
        lock.release()
