"""The command line: ``flask --app wsgi <group> <command>``, one module per command group.

Commands commit (once per command); the services they call never do. Help texts are written in
Japanese inside ``N_()`` and shown in the UI language (``app/cli/help.py``); ``--ward NAME`` is
resolved the same way everywhere (``app/cli/wards.py``).
"""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    """Add every command group (and the ``demo`` command) to ``app.cli``."""
    from app.cli.audit import audit_cli
    from app.cli.backup import backup_cli
    from app.cli.catalogue import catalogue_cli
    from app.cli.demo import demo_command
    from app.cli.goals import goals_cli
    from app.cli.published import published_cli
    from app.cli.report import report_cli
    from app.cli.retention import retention_cli
    from app.cli.roster import roster_cli
    from app.cli.rounds import round_cli
    from app.cli.scheduler import scheduler_cli
    from app.cli.users import users_cli

    for command in (
        catalogue_cli, roster_cli, demo_command, round_cli, report_cli, published_cli,
        users_cli, scheduler_cli, goals_cli, backup_cli, retention_cli, audit_cli,
    ):
        app.cli.add_command(command)
