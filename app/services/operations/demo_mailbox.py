"""The demo's mailbox: the messages ``FileMailer`` wrote (``kijun-mail-<ledger id>.eml`` under
``DEMO_MAIL_DIR``, by default ``instance/demo-mail``), read back for the page ``/demo/mail``.

Only the demo turns it on (``DEMO_MAILBOX``, set by ``flask demo serve``); the page is a 404
otherwise. A message is found by its file name, which must be one the mailer writes and a file
in the folder: no other path is ever opened.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from flask import current_app

from app.services.operations.mail import demo_mail_dir

MESSAGE_NAME = re.compile(r"^kijun-mail-[0-9]{1,12}\.eml$")
LISTED = 200  # the newest messages the page lists


@dataclass(frozen=True)
class DemoMessage:
    """One message of the demo's mailbox, as the page shows it."""

    name: str
    to: str
    subject: str
    date: datetime | None
    body: str


def mailbox_enabled() -> bool:
    """Whether the demo's mailbox is on (``DEMO_MAILBOX``)."""
    return bool(current_app.config.get("DEMO_MAILBOX"))


def _folder() -> Path:
    return demo_mail_dir(current_app.config, current_app.instance_path)


def _read(path: Path) -> DemoMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)  # noqa: S101 - policy.default makes EmailMessage
    part = parsed.get_body(preferencelist=("plain",))
    body = part.get_content() if isinstance(part, EmailMessage) else ""
    try:
        date = parsedate_to_datetime(str(parsed["Date"])) if parsed["Date"] else None
    except (TypeError, ValueError):
        date = None
    return DemoMessage(path.name, str(parsed["To"] or ""), str(parsed["Subject"] or ""),
                       date, str(body))


def _number(name: str) -> int:
    return int(name.removeprefix("kijun-mail-").removesuffix(".eml"))


def demo_messages(to: str = "") -> tuple[list[DemoMessage], int]:
    """The newest messages (at most ``LISTED``), newest first, those to an address containing
    ``to`` when given; and how many there are in all (of that address)."""
    folder = _folder()
    if not folder.is_dir():
        return [], 0
    names = sorted(
        (p.name for p in folder.iterdir() if MESSAGE_NAME.match(p.name)),
        key=_number, reverse=True,
    )
    wanted = to.strip().casefold()
    found: list[DemoMessage] = []
    total = 0
    for name in names:
        message = _read(folder / name)
        if wanted and wanted not in message.to.casefold():
            continue
        total += 1
        if len(found) < LISTED:
            found.append(message)
    return found, total


def demo_message(name: str) -> DemoMessage | None:
    """One message by its file name; None for a name the mailer never writes or no file."""
    if not MESSAGE_NAME.match(name):
        return None
    path = _folder() / name
    if not path.is_file() or path.is_symlink():
        return None
    return _read(path)
