"""The one base of the services' errors: a rule refused an action, and says why.

Every service raises a subclass (RosterError, RoundError, ResultsError …), so that a view or a
command catches one kind of thing and shows ``errors`` (one message per problem, in the
reader's language, Japanese by default) or ``message`` (all of them, one per line).
"""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """An action the rules refuse; nothing was written. ``errors`` lists every problem."""

    def __init__(self, errors: str | Sequence[str]) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        self.message = "\n".join(self.errors)
        super().__init__(self.message)
