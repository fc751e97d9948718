"""The command line's help in the UI language: Japanese, or English with
``BABEL_DEFAULT_LOCALE = "en"`` (the setting the pages start from, docs/language.md).

Every help text (a group's, a command's, an option's) is written in Japanese inside ``N_()``,
which only marks it for ``pybabel extract``; ``Command`` and ``Group`` translate the texts
when ``--help`` is shown (Flask's CLI pushes the app context first), so one command's help
is in one language throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import has_app_context
from flask.cli import AppGroup


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "mark only"
    """Mark a help text for extraction; it is translated when shown."""
    return text


def translate(text: str) -> str:
    """The text in the UI language (the Japanese itself outside an app)."""
    if not text or not has_app_context():
        return text
    from flask_babel import gettext

    return gettext(text)


@contextmanager
def _in_ui_language(command: click.Command, ctx: click.Context | None) -> Iterator[None]:
    saved: list[tuple[Any, str, Any]] = []
    params = command.get_params(ctx) if ctx is not None else command.params
    for target, attribute in [(command, "help"), (command, "short_help")] + [
        (param, "help") for param in params
    ]:
        value = getattr(target, attribute, None)
        if isinstance(value, str):
            saved.append((target, attribute, value))
            setattr(target, attribute, translate(value))
    try:
        yield
    finally:
        for target, attribute, value in saved:
            setattr(target, attribute, value)


class _UiLanguageHelp(click.Command):
    def get_help(self, ctx: click.Context) -> str:
        with _in_ui_language(self, ctx):
            return super().get_help(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        with _in_ui_language(self, None):
            return super().get_short_help_str(limit)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = translate(N_("このヘルプを表示して終わる。"))
        return option


class Command(_UiLanguageHelp):
    """A command whose help follows the UI language."""


class Group(_UiLanguageHelp, AppGroup):
    """A command group (Flask's ``AppGroup``) whose help, and its commands' help, follows the
    UI language."""

    command_class = Command
