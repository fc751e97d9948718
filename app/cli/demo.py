"""``flask --app wsgi demo``: the demo ward, its people, catalogues and rounds."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.help import N_, Command


@click.command(
    "demo", cls=Command,
    help=N_(
        "デモ用の区（高津区がモデル）、職員、カタログ、終了した2回の調査を作る。\n\n"
        "surveys/ のカタログすべて、3年度分の名簿（19課・約350人、異動と退職を含む）、4つのサイ"
        "ンイン用アカウント（職員・所属長・委員会・管理者）、回答つきの令和6年度と令和7年度の調"
        "査を作る。もう一度実行しても、あるデモデータはそのまま使う。"
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
    there.
    """
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
    click.echo("起動: flask --app wsgi run  →  http://127.0.0.1:5000（サインインは /auth/login）")
