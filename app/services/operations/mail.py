"""Mail over SMTP: the settings, one message as an ``EmailMessage``, a connection that sends
several messages (docs/scheduler.md); and the demo's mailbox, which writes each message as a
file instead (``FileMailer``, chosen by ``mailer_for`` when ``DEMO_MAILBOX`` is on).

Plain text, UTF-8 (base64, so that old relays pass it untouched). Each message carries a
Message-ID made from its send-ledger row, so a message tried again keeps the same id. Nothing
here touches the database.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

from app.private_files import private_dir, write_private
from app.wareki import tokyo

# Errors that concern one message only: the connection is still good for the next one.
MESSAGE_ERRORS: tuple[type[Exception], ...] = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
)
# Errors of the connection or the server: nothing more can be sent over it now.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class MailSettings:
    """How to reach the SMTP server (``MAIL_*`` settings)."""

    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    sender: str
    timeout: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        return cls(
            host=str(config["MAIL_HOST"]),
            port=int(config["MAIL_PORT"]),
            starttls=bool(config["MAIL_STARTTLS"]),
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            sender=str(config["MAIL_FROM"]),
            timeout=float(config["MAIL_TIMEOUT_SECONDS"]),
        )


@dataclass(frozen=True)
class Outgoing:
    """One message ready to send: its ledger row, the address, subject and body."""

    ledger_id: int
    to: str
    subject: str
    body: str


def build_message(mail: Outgoing, sender: str, now: datetime) -> EmailMessage:
    """The message as sent: From, To, Subject, Date (Tokyo), Message-ID, UTF-8 body."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(tokyo(now))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "kijun.invalid"
    message["Message-ID"] = f"<kijun-mail-{mail.ledger_id}@{domain}>"
    message.set_content(mail.body, charset="utf-8", cte="base64")
    return message


class Connection(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Mailer(Protocol):
    """Opens a connection over which several messages are sent, then closed."""

    def connect(self) -> Any:
        """A context manager yielding a ``Connection``."""
        ...


class _SmtpConnection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp

    def send(self, message: EmailMessage) -> None:
        self.smtp.send_message(message)


class SmtpMailer:
    """SMTP with smtplib: STARTTLS (with the certificate checked) and login when configured."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[_SmtpConnection]:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            yield _SmtpConnection(smtp)
        finally:
            try:
                smtp.quit()
            except CONNECTION_ERRORS:
                pass
            smtp.close()


class _FileConnection:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        """One ``.eml`` file per message, named by its Message-ID (a message tried again
        replaces its own file)."""
        ident = str(message["Message-ID"]).strip("<>").partition("@")[0]
        write_private(self.folder / f"{ident}.eml", bytes(message))


class FileMailer:
    """The demo's mailbox: each message written as ``kijun-mail-<ledger id>.eml`` in
    ``folder`` (0600 files in a 0700 folder: they hold names and addresses). Nothing is sent."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def connect(self) -> Iterator[_FileConnection]:
        yield _FileConnection(private_dir(self.folder))


def demo_mail_dir(config: Mapping[str, Any], instance_path: str) -> Path:
    """``DEMO_MAIL_DIR``, by default ``instance/demo-mail``."""
    configured = config.get("DEMO_MAIL_DIR")
    return Path(configured) if configured else Path(instance_path) / "demo-mail"


def mailer_for(config: Mapping[str, Any], instance_path: str) -> Mailer:
    """The mailer the settings call for: the demo's files when ``DEMO_MAILBOX`` is on, else
    the SMTP server of the ``MAIL_*`` settings."""
    if config.get("DEMO_MAILBOX"):
        return FileMailer(demo_mail_dir(config, instance_path))
    return SmtpMailer(MailSettings.from_config(config))
