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


def ward_named_or_new(name: str) -> tuple[Ward, bool]:
    """``ward_named``, or when there is no such ward a new one
    (``roster_organisation.create_ward``: the name as a roster stores it, ``区`` added when
    missing); True when it was created. A name a roster would refuse: stderr, exit status 1."""
    from app.extensions import db
    from app.services.organisation.grants import GrantError, find_ward
    from app.services.organisation.roster_file import RosterError
    from app.services.organisation.roster_organisation import create_ward

    try:
        return find_ward(name), False
    except GrantError:
        pass
    try:
        return create_ward(name), True
    except RosterError as exc:
        db.session.rollback()
        click.echo(exc.message, err=True)
        raise click.exceptions.Exit(1) from exc
