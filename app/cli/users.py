"""``flask --app wsgi users ...``: passwords, set-password links and committee/admin grants.

Commands commit; the services they call never do. Errors go to stderr with exit status 1.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from app.cli.help import N_, Group
from app.cli.wards import optional_ward, ward_named_or_new
from app.models import GrantRole, Person, Ward, utcnow

users_cli = Group("users", help=N_("サインイン用のパスワードと、推進委員会・管理者の権限。"))

ROLE_CHOICE = click.Choice([r.value for r in GrantRole])
ROLE_LABEL = {GrantRole.COMMITTEE: "推進委員会", GrantRole.ADMIN: "管理者"}


def _fail(message: str) -> click.exceptions.Exit:
    from app.extensions import db

    db.session.rollback()
    click.echo(message, err=True)
    return click.exceptions.Exit(1)


def _person(employee_id: str) -> Person:
    from app.services.identity.auth import find_person

    person = find_person(employee_id)
    if person is None:
        raise _fail(f"職員番号 {employee_id} の職員は名簿にありません。")
    return person


def _scope(ward: Ward | None) -> str:
    return ward.name if ward else "全市"


@users_cli.command(
    "set-password",
    help=N_(
        "職員のパスワードを設定する（10文字以上）。\n\n"
        "入力を表示せずに2回たずねる。--password-stdin なら標準入力の1行目を使う。名簿にない職"
        "員番号や規則に合わないパスワードは終了コード 1。"
    ),
)
@click.argument("employee_id")
@click.option(
    "--password-stdin", is_flag=True, help=N_("パスワードを標準入力の1行目から読む（確認なし）。")
)
def set_password_command(employee_id: str, password_stdin: bool) -> None:
    """Set a person's password (at least 10 characters).

    Prompts twice without echoing, or with --password-stdin reads the first line of standard
    input. Exits with status 1 for an unknown employee id or a password that breaks the rules.
    """
    from app.extensions import db
    from app.services.identity.auth import PasswordRuleError, set_password
    from app.services.organisation.people import log_password_set

    person = _person(employee_id)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            "新しいパスワード", hide_input=True, confirmation_prompt="もう一度（確認）"
        )
    try:
        set_password(person, password)
    except PasswordRuleError as exc:
        raise _fail(exc.message) from exc
    log_password_set(None, person, "command")
    db.session.commit()
    click.echo(f"{person.employee_id} {person.name} のパスワードを設定しました。")


@users_cli.command(
    "password-link",
    help=N_(
        "本人が自分でパスワードを設定するための、一度だけ使えるリンクを表示する。\n\n"
        "リンクは一度だけ、パスワードが変わるまで、PASSWORD_LINK_MAX_AGE 秒（既定 72 時間）のあ"
        "いだ使える。先頭は --base-url、なければ設定 BASE_URL。本人だけが読む方法で本人にだけ送"
        "ること。"
    ),
)
@click.argument("employee_id")
@click.option("--base-url", default=None, help=N_("リンクの先頭（省略時は設定 BASE_URL）。"))
def password_link_command(employee_id: str, base_url: str | None) -> None:
    """Print a one-time link with which the person sets their own password.

    The link works once, until the password changes, and for PASSWORD_LINK_MAX_AGE seconds
    (72 hours by default). It starts with --base-url, or the BASE_URL setting. Send it to the
    person only, by a channel they alone read.
    """
    from app.extensions import db

    person = _person(employee_id)
    lines = _password_link(person, base_url)
    db.session.commit()
    for line in lines:
        click.echo(line)


def _password_link(person: Person, base_url: str | None) -> list[str]:
    """A one-time password link for ``person``, audited (no actor: the command line), as the
    lines to print once the command has committed."""
    from flask import current_app, url_for

    from app.services.identity.auth import link_max_age, password_link_token
    from app.services.organisation.people import log_password_link
    from app.wareki import reiwa_datetime, tokyo

    token = password_link_token(person)
    base = (base_url or current_app.config["BASE_URL"]).rstrip("/") + "/"
    with current_app.test_request_context(base_url=base):
        link = url_for("auth.set_password", token=token, _external=True)
    until = tokyo(utcnow() + timedelta(seconds=link_max_age()))
    log_password_link(None, person, until)
    return [
        f"{person.employee_id} {person.name} さんのパスワード設定用リンク:",
        link,
        f"有効期限: {reiwa_datetime(until)}（一度使うと無効になります）",
    ]


@users_cli.command(
    "create-admin",
    help=N_(
        "管理者が1人もいないデータベースに、最初の管理者を作る（1回だけ）。\n\n"
        "区（--ward）がなければ作り、職員（--name と --email、すでにいればその人）に、その区の"
        "（--city なら全市の）管理者の権限を与え、パスワード設定用のリンクを表示する。管理者が"
        "すでにいれば何もせず終了コード 1: 2人目からは users grant で与える。"
    ),
)
@click.argument("employee_id")
@click.option("--name", default=None, help=N_("氏名（新しい職員のとき）。"))
@click.option("--email", default=None, help=N_("メールアドレス（新しい職員のとき）。"))
@click.option("--ward", "ward_name", default=None,
              help=N_("区の名前（例 高津区）。なければ作る。"))
@click.option("--city", is_flag=True, help=N_("区ではなく全市の管理者にする。"))
@click.option("--base-url", default=None, help=N_("リンクの先頭（省略時は設定 BASE_URL）。"))
def create_admin_command(
    employee_id: str, name: str | None, email: str | None, ward_name: str | None, city: bool,
    base_url: str | None,
) -> None:
    """Make the first admin of a database where nobody holds an admin grant (once).

    Creates the ward (--ward) when it does not exist and the person (--name and --email; an
    existing person is taken as stored), grants them admin for that ward (or the city with
    --city) and prints a one-time password link. Once any admin exists it changes nothing and
    exits with status 1: later admins are granted with `users grant`.
    """
    from app.extensions import db
    from app.services.organisation.first_admin import (
        FirstAdminError,
        create_first_admin,
        require_no_admin,
    )

    if city == (ward_name is not None):
        raise _fail("--ward（区の名前）か --city のどちらか一方を付けてください。")
    try:
        require_no_admin()
        ward, ward_created = (None, False) if city else ward_named_or_new(ward_name or "")
        made = create_first_admin(employee_id, name, email, ward, ward_created=ward_created)
    except FirstAdminError as exc:
        raise _fail(exc.message) from exc
    lines = _password_link(made.person, base_url)
    db.session.commit()
    if ward_created and ward is not None:
        click.echo(f"区「{ward.name}」を作りました（名簿の「区」の列にはこの名前を書きます）。")
    person = made.person
    who = "作りました" if made.person_created else "すでにいたので、そのまま使います"
    click.echo(f"職員 {person.employee_id} {person.name} を{who}。")
    click.echo(f"{person.employee_id} {person.name}: 管理者（{_scope(ward)}）を付与しました。")
    for line in lines:
        click.echo(line)


@users_cli.command(
    "grant",
    help=N_(
        "職員に、区（--ward）または全市の推進委員会か管理者の権限を与える。\n\n"
        "区の委員会はその区の結果を読む。--ward がなければすべての区。--until YYYY-MM-DD なら"
        "その日（東京時間）まで使え、翌日から効力がなくなる。付与済みの権限にもう一度実行すると、"
        "終わりの日を --until の日に変える（--until がなければ終わりの日をなくす）。同じ内容なら"
        "何も変わらない。名簿にない職員や区、読めない日付や過去の日付は終了コード 1。"
    ),
)
@click.argument("role", type=ROLE_CHOICE)
@click.argument("employee_id")
@click.option("--ward", "ward_name", default=None, help=N_("区の名前（例 高津区）。省略時は全市。"))
@click.option("--until", "until", default=None,
              help=N_("権限の終わりの日（例 2027-03-31、この日まで有効）。省略時は取り消すまで。"))
def grant_command(role: str, employee_id: str, ward_name: str | None, until: str | None) -> None:
    """Give a person the committee or admin role for a ward (--ward) or the whole city.

    A ward's committee reads that ward's results; without --ward the grant covers every ward.
    With --until YYYY-MM-DD the grant works up to that day (Tokyo) and stops after it. Run
    again on a held grant, it sets the end date to --until (none without it); the same values
    change nothing. Exits with status 1 for an unknown person or ward, or an unreadable or past
    date.
    """
    from app.extensions import db
    from app.services.organisation.grants import GrantError, parse_ends_on
    from app.services.organisation.people import change_grant

    person = _person(employee_id)
    ward = optional_ward(ward_name)
    try:
        ends_on = parse_ends_on(until or "", utcnow())
    except GrantError as error:
        raise _fail(error.message) from error
    # Audited like the page's grant (actor None: the command line).
    added = change_grant(None, person, GrantRole(role), ward.id if ward else None, None,
                         grant=True, ends_on=ends_on)
    db.session.commit()
    label = f"{person.employee_id} {person.name}: {ROLE_LABEL[GrantRole(role)]}（{_scope(ward)}）"
    if ends_on is not None:
        label += f"（{ends_on.isoformat()} まで）"
    click.echo(f"{label} を付与しました。" if added else f"{label} はすでに付与されています。")


@users_cli.command(
    "revoke",
    help=N_(
        "職員から、区（--ward）または全市の推進委員会か管理者の権限を取り消す。\n\n"
        "ちょうどその範囲の権限だけを取り消す（全市の権限を取り消しても区の権限は残る）。名簿に"
        "ない職員や区は終了コード 1。なかった権限はそう表示する。"
    ),
)
@click.argument("role", type=ROLE_CHOICE)
@click.argument("employee_id")
@click.option("--ward", "ward_name", default=None, help=N_("区の名前（例 高津区）。省略時は全市。"))
def revoke_command(role: str, employee_id: str, ward_name: str | None) -> None:
    """Take the committee or admin role for a ward (--ward) or the city away from a person.

    Only the grant with exactly that scope goes: revoking the city grant leaves ward grants.
    Exits with status 1 for an unknown person or ward; a grant that was not there is reported.
    """
    from app.extensions import db
    from app.services.organisation.people import change_grant

    person = _person(employee_id)
    ward = optional_ward(ward_name)
    removed = change_grant(None, person, GrantRole(role), ward.id if ward else None, None,
                           grant=False)
    db.session.commit()
    label = f"{person.employee_id} {person.name}: {ROLE_LABEL[GrantRole(role)]}（{_scope(ward)}）"
    click.echo(f"{label} を取り消しました。" if removed else f"{label} は付与されていません。")


@users_cli.command(
    "list-grants",
    help=N_(
        "推進委員会と管理者の権限をすべて一覧する: 職員番号、氏名、権限、区（または全市）。"
    ),
)
def list_grants_command() -> None:
    """List every committee and admin grant: employee id, name, role and ward (or 全市)."""
    from app.services.organisation.grants import list_grants

    grants = list_grants()
    if not grants:
        click.echo("推進委員会・管理者の権限を持つ人はいません。")
        return
    for g in grants:
        until = f"\t{g.ends_on.isoformat()} まで" if g.ends_on else ""
        click.echo(
            f"{g.person.employee_id}\t{g.person.name}\t{ROLE_LABEL[g.role]}\t{_scope(g.ward)}"
            + until
        )


@users_cli.command(
    "prune-attempts",
    help=N_(
        "--days 日（既定 30 日）より前のサインインの記録を削除する。"
    ),
)
@click.option(
    "--days", type=click.IntRange(min=1), default=30, show_default=True, help=N_("残す日数。")
)
def prune_attempts_command(days: int) -> None:
    """Delete the records of sign-in attempts older than --days days (30 by default)."""
    from app.extensions import db
    from app.services.governance import audit
    from app.services.identity.auth import prune_login_attempts

    before = utcnow() - timedelta(days=days)
    removed = prune_login_attempts(before)
    if removed:
        audit.record("auth.attempts_pruned", actor=None, target_type="login_attempt",
                     target_id=None, after={"before": before.isoformat(), "removed": removed})
    db.session.commit()
    click.echo(f"{days}日より前のサインイン記録を {removed} 件削除しました。")
