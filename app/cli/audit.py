"""``flask audit verify``: check the audit log's hash chain, its key and its anchor
(app/services/governance/audit.py, audit_anchor.py)."""

from __future__ import annotations

import click

from app.cli.help import N_, Group
from app.services.governance.audit import ChainProblem, verify_chain

audit_cli = Group("audit", help=N_("操作の記録（監査ログ）。"))

# What each problem means, for the person reading cron's mail (docs/audit.md).
MESSAGES = {
    "link": "前の記録とのつながりが切れています（削除・挿入）",
    "hash": "内容が変更されています",
    "key": "監査の鍵による署名が合いません（鍵を持たない者による書き換え・追加）",
    "unsigned": "署名のない記録が署名のある記録の後にあります（鍵を持たない者による追加）",
    "truncated": "記録がアンカーの記録より前で終わっています（最後の記録が削除されています）",
    "emptied": "記録が1件もありませんが、アンカーは記録を指しています（すべて削除されています）",
    "anchor": "アンカーの記録が、アンカーの示す位置にありません（前の記録の削除・挿入）",
    "no_anchor": "署名のある記録がありますが、アンカーのファイルがありません"
    "（AUDIT_ANCHOR_PATH を確かめてください）",
    "bad_anchor": "アンカーのファイルが監査の鍵で確かめられません（書き換え、または別の鍵）",
    "other_database": "アンカーのファイルは別のデータベースのものです"
    "（AUDIT_ANCHOR_PATH を確かめてください）",
}


def _line(problem: ChainProblem) -> str:
    where = "操作の記録" if problem.event_id is None else f"記録 {problem.event_id}"
    return f"{where}: {MESSAGES[problem.reason]}"


@audit_cli.command(
    "verify",
    help=N_(
        "操作の記録のハッシュの連鎖、監査の鍵による署名とアンカーを確かめる。\n\n"
        "書き換えられた記録や、消された・差し込まれた記録、鍵を持たない者が書いた記録があれば"
        "その番号を、最後の記録が削除されていれば（すべての削除も）そのことを示して、終了コード"
        " 1 で終わる（docs/audit.md）。"
    ),
)
def verify_command() -> None:
    """Recompute every row's hash and mac and compare the log with its anchor; exit 1 naming
    the rows that were edited, removed or added without the key, or a log cut short."""
    problems = list(verify_chain())
    if not problems:
        click.echo("操作の記録は改ざんされていません。")
        return
    for problem in problems:
        click.echo(_line(problem), err=True)
    raise click.exceptions.Exit(1)
