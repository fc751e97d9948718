"""``flask audit verify``: check the audit log's hash chain (app/services/governance/audit.py)."""

from __future__ import annotations

import click

from app.cli.help import N_, Group
from app.services.governance.audit import verify_chain

audit_cli = Group("audit", help=N_("操作の記録（監査ログ）。"))


@audit_cli.command(
    "verify",
    help=N_(
        "操作の記録のハッシュの連鎖を確かめる。\n\n"
        "書き換えられた記録や、消された・差し込まれた記録があれば、その番号を示して"
        "終了コード 1 で終わる。"
    ),
)
def verify_command() -> None:
    """Recompute every row's hash; exit 1 naming the rows that were edited or removed."""
    problems = list(verify_chain())
    if not problems:
        click.echo("操作の記録は改ざんされていません。")
        return
    for problem in problems:
        what = "内容が変更されています"
        if problem.reason == "link":
            what = "前の記録とのつながりが切れています（削除・挿入）"
        click.echo(f"記録 {problem.event_id}: {what}", err=True)
    raise click.exceptions.Exit(1)
