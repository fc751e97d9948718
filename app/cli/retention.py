"""``flask --app wsgi retention purge``: remove the personal data of people who left.

The rules live in ``app.services.governance.retention``; this command commits once, all or nothing.
"""

import dataclasses

import click

from app.cli.help import N_, Group

retention_cli = Group(
    "retention", help=N_("保存期間を過ぎた個人情報（名簿から外れた人の回答など）の削除。")
)


@retention_cli.command(
    "purge",
    help=N_(
        "指定した年度以降の名簿に載っていない人の、氏名・メールアドレス・コメント・回答を"
        "削除する。\n\n公表した遵守率は変わらない（締め切った調査の集計は残る）。"
        "--dry-run なら件数を表示するだけ。"
    ),
)
@click.option(
    "--before-fiscal-year",
    "before_fiscal_year",
    type=int,
    required=True,
    help=N_(
        "この年度（4月始まりの年度の西暦。令和4年度なら 2022）以降の名簿に載っていない人が"
        "対象。今年度より前の年度を指定する。"
    ),
)
@click.option(
    "--dry-run", is_flag=True, help=N_("消えるものの件数を表示するだけで何も書き込まない。")
)
def retention_purge_command(before_fiscal_year: int, dry_run: bool) -> None:
    """Remove the names, mail addresses, comments and answers of everyone on no roster since
    the given fiscal year (docs/deploy.md, "Retention").

    Counts every closed round not counted yet first, so that every published rate stays the
    same. Refuses (exit status 1, nothing written) a year that is the current fiscal year or
    later, or while a round the leavers answered, or a round of an earlier year, is not
    closed. ``--dry-run`` prints what would go and writes nothing.
    """
    from app.extensions import db
    from app.services.governance import audit
    from app.services.governance.retention import RetentionError, plan_purge, purge_personal_data

    try:
        if dry_run:
            summary = plan_purge(before_fiscal_year)
        else:
            summary = purge_personal_data(before_fiscal_year)
    except RetentionError as exc:
        db.session.rollback()
        click.echo(exc.message, err=True)
        raise click.exceptions.Exit(1) from exc
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        # In the same transaction: the counts only, never the names just removed.
        audit.record(
            "retention.purge",
            actor=None,
            target_type="fiscal_year",
            target_id=before_fiscal_year,
            after=dataclasses.asdict(summary),
        )
        db.session.commit()
    for line in summary.lines():
        click.echo(line)
    if summary.counted_round_ids:
        ids = "、".join(str(i) for i in summary.counted_round_ids)
        click.echo(f"  先に集計した調査: {ids}")
    if dry_run:
        click.echo("（確認のみ: 何も書き込んでいません）")
    else:
        click.echo("削除しました。公表した遵守率は締め切り時の集計から読むため変わりません。")
