"""Command groups: ``flask --app wsgi catalogue|roster|demo ...``. Commands commit; services don't."""

import click
from flask.cli import AppGroup

catalogue_cli = AppGroup("catalogue", help="サービス基準（カタログ）の読み込みと一覧。")
roster_cli = AppGroup("roster", help="職員名簿の取り込み。")


@click.command("demo")
def demo_command() -> None:
    """Build the demo ward (高津区風), its people, catalogues and two past rounds."""
    raise click.ClickException("not built yet")
