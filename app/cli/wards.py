"""``--ward NAME``, resolved the same way by every command: ``grants.find_ward`` (``高津``
finds ``高津区`` too). An unknown name prints the wards there are and exits with status 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from app.models import Ward


def ward_named(name: str) -> Ward:
    """The ward called ``name``; else the refusal on stderr, nothing written, exit status 1."""
    from app.extensions import db
    from app.services.organisation.grants import GrantError, find_ward

    try:
        return find_ward(name)
    except GrantError as exc:
        db.session.rollback()
        click.echo(exc.message, err=True)
        raise click.exceptions.Exit(1) from exc


def optional_ward(name: str | None) -> Ward | None:
    """``ward_named`` for an optional ``--ward``: None (the whole city) when it is not given."""
    return None if name is None else ward_named(name)
