"""Text that reaches a mail header or a line of a mail is one line.

A round's title is the subject of its mail; a section's name is in the chief's digest's
subject; people's names, wards' names and catalogues' titles are lines of mail bodies, pages
and files. A line break there ends a header (Python's ``email`` refuses to build the message,
and a header injected with ``\\r\\nBcc: …`` would be one more) or adds lines a reader takes
for the message's own. So every entry point of such a text (the admin forms, the CLI through
the services, catalogue YAML and the browser's catalogue editor, roster files) refuses the
control characters: C0 (U+0000–U+001F, tab and line feed included), DEL (U+007F), C1
(U+0080–U+009F, NEL included) and the Unicode line and paragraph separators (U+2028, U+2029).

Rows written before the check are repaired by a migration (control characters become a space,
spaces are collapsed: migrations/versions/citycrlf0001_one_line_texts.py), and the scheduler sends
every other message when one cannot be built (app/scheduler.py).
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _

# Besides the Cc category (C0, DEL, C1): the line and paragraph separators.
_SEPARATORS = frozenset({"\u2028", "\u2029"})


def control_characters(text: str) -> list[str]:
    """The control characters in ``text``, each once in the order found, as ``U+000A``."""
    found = dict.fromkeys(
        f"U+{ord(c):04X}" for c in text if c in _SEPARATORS or unicodedata.category(c) == "Cc"
    )
    return list(found)


def one_line_problem(text: str | None, label: str) -> str | None:
    """None when ``text`` (a title or a name, called ``label`` in the message) is one line;
    else the plain message saying which characters it may not hold."""
    found = control_characters(text or "")
    if not found:
        return None
    return str(
        _(
            "%(label)sに改行やタブなどの制御文字（%(chars)s）は使えません。1行で書いてください。",
            label=label,
            chars="、".join(found),
        )
    )

