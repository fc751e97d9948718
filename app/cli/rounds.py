"""``flask --app wsgi round create|list``: open a catalogue for a period in some wards.

Commands commit; the services they call never do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from app.cli.help import N_, Group

if TYPE_CHECKING:
    from app.models import Round


round_cli = Group("round", help=N_("調査（回）の作成と一覧。"))


@round_cli.command(
    "create",
    help=N_(
        "カタログを1つ以上の区で期間を決めて調査として開き、新しい調査の番号を表示する。\n\n"
        "日時は「2026-11-01 09:00」（T でも可）で、+09:00 や Z がなければ東京時間。--opens から"
        "（その時刻を含む）--closes まで（含まない）受け付ける。調査の年度は開始日の年度で、そ"
        "の年度の名簿で回答者が決まる（docs/rounds.md）。調査の説明を1行、最後の行に番号だけを"
        "表示する。エラーは標準エラーに表示し、何も書き込まず終了コード 1 で終わる。"
    ),
)
@click.option(
    "--catalogue", "catalogue_key", required=True, help=N_("カタログのキー（例 takatsu-2025）。")
)
@click.option(
    "--ward", "wards", multiple=True, required=True, help=N_("対象の区。複数なら繰り返す。")
)
@click.option("--opens", required=True, help=N_("開始日時（例 2026-11-01 09:00、東京時間）。"))
@click.option("--closes", required=True, help=N_("締切日時（例 2026-11-28 17:15、東京時間）。"))
@click.option(
    "--title", default=None, help=N_("題名（省略時: 令和N年度 区役所サービス基準 自己点検）。")
)
@click.option(
    "--reminder-days",
    default=None,
    help=N_("まだ提出していない人へお知らせを送る日。締め切りの何日前かをカンマで区切る"
    "（省略時 7,3,1。\"\" なら送らない）。"),
)
@click.option(
    "--confirm-year",
    is_flag=True,
    help=N_("調査の年度とカタログの年度が違っても作る（違うときは、これがないと作らない）。"),
)
def round_create_command(
    catalogue_key: str,
    wards: tuple[str, ...],
    opens: str,
    closes: str,
    title: str | None,
    reminder_days: str | None,
    confirm_year: bool,
) -> None:
    """Open a catalogue for a period in one or more wards and print the new round's id.

    Times are "2026-11-01 09:00" (or with a T) on the city's clock (Asia/Tokyo) unless an
    offset such as +09:00 or Z is given. The round is open from --opens (inclusive) until
    --closes (exclusive); its fiscal year is the one in which it opens, and that year's roster
    decides who answers (docs/rounds.md). Prints a line describing the round and, on the last
    line, the id alone. Unreadable times are reported first; otherwise every problem found is
    printed. Errors go to stderr, nothing is written and the exit status is 1.
    """
    from app.extensions import db
    from app.services.governance import audit
    from app.services.rounds.rounds import (
        RoundError,
        catalogue_year_mismatch,
        create_round,
        round_values,
    )

    times, days, errors = _round_options(opens, closes, reminder_days)
    if not errors and not confirm_year:
        mismatch = catalogue_year_mismatch(catalogue_key, times[0])
        if mismatch:
            errors.append(
                f"{mismatch}このまま作るときは --confirm-year を付けてください"
                "（新しい年度の基準を使うなら、先にそのカタログを公開してください）。"
            )
    if not errors:
        try:
            round_ = create_round(
                catalogue_key, wards, times[0], times[1], title=title, reminder_days=days
            )
        except RoundError as exc:
            errors.extend(exc.errors)
    if errors:
        db.session.rollback()
        for message in errors:
            click.echo(message, err=True)
        click.echo("調査は作成していません。", err=True)
        raise click.exceptions.Exit(1)
    after = round_values(round_)
    audit.record(
        "round.create",
        actor=None,  # the command line
        target_type="round",
        target_id=round_.id,
        after={**after, "source": "cli"},
        ward_id=audit.single_ward(after["ward_ids"]),
    )
    db.session.commit()
    _echo_created_round(round_)


def _round_options(
    opens: str, closes: str, reminder_days: str | None
) -> tuple[list[datetime], tuple[int, ...] | None, list[str]]:
    """The opening and closing times and the reminder days as given on the command line
    (None: the default), with the message of each that cannot be read."""
    from app.services.rounds.rounds import parse_datetime, parse_reminder_days

    errors: list[str] = []
    times = []
    for value in (opens, closes):
        try:
            times.append(parse_datetime(value))
        except ValueError as exc:
            errors.append(str(exc))
    days: tuple[int, ...] | None = None
    if reminder_days is not None:
        try:
            days = parse_reminder_days(reminder_days)
        except ValueError as exc:
            errors.append(str(exc))
    return times, days, errors


def _echo_created_round(round_: Round) -> None:
    """A line describing the new round (after a note on stderr when its catalogue is of
    another year than its roster), then its id alone."""
    from app.wareki import fiscal_year_label, reiwa_datetime

    if round_.catalogue.fiscal_year != round_.fiscal_year:
        click.echo(
            f"注意: カタログは{fiscal_year_label(round_.catalogue.fiscal_year)}のもの、"
            f"回答者は{fiscal_year_label(round_.fiscal_year)}の名簿で決まります。",
            err=True,
        )
    wards_text = "・".join(w.name for w in round_.wards)
    click.echo(
        f"調査 {round_.id} を作成しました: {round_.title}（{wards_text}、"
        f"{reiwa_datetime(round_.opens_at)} から {reiwa_datetime(round_.closes_at)} まで、"
        f"お知らせ: {_reminder_days_text(round_.reminder_days)}）"
    )
    click.echo(str(round_.id))


def _reminder_days_text(stored: str) -> str:
    from app.services.rounds.rounds import parse_reminder_days

    days = parse_reminder_days(stored)
    return "、".join(f"{d}日前" for d in days) + "に送る" if days else "送らない"


@round_cli.command(
    "list",
    help=N_(
        "調査を新しい順にすべて一覧する: 番号、状態（受付中・受付前・終了）、題名、カタログ、区"
        "、期間（東京時間）。"
    ),
)
def round_list_command() -> None:
    """List every round, newest first: id, state (受付中/受付前/終了), title, catalogue, wards
    and the period on the city's clock."""
    from app.models import utcnow
    from app.services.rounds.rounds import list_rounds
    from app.wareki import reiwa_datetime

    rounds = list_rounds(utcnow())
    if not rounds:
        click.echo("調査はまだありません（flask --app wsgi round create で作成します）。")
        return
    for r in rounds:
        state = {"open": "受付中", "upcoming": "受付前", "closed": "終了  "}[r.state]
        click.echo(
            f"{r.id:>4}  {state}  {r.title}  [{r.catalogue_key}]  {'・'.join(r.wards)}  "
            f"{reiwa_datetime(r.opens_at)} 〜 {reiwa_datetime(r.closes_at)}"
        )
