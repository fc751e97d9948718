"""The audit log's key and anchor (docs/audit.md, "The key and the anchor").

The hash chain (``app/services/governance/audit.py``) finds a row edited or removed in the
middle of the log, but anyone who may write the database can recompute it: rewrite a row and
every hash after it, append a row of their own, cut the last rows or delete them all. Two
things kept outside the database close that:

* **the key** (``AUDIT_KEY``; by default derived from ``SECRET_KEY`` with ``KEY_LABEL``): each
  row carries ``mac``, the HMAC-SHA256 of its place in the log (``seq``) and its hash. Without
  the key nobody can write or rewrite a row that verifies;
* **the anchor**: after each commit that appended rows, the last row's place, hash and id are
  written, signed with the key, to ``AUDIT_ANCHOR_PATH`` (``instance/audit-anchor.json``, mode
  0600) and to the application log. The log must reach that row: a log cut before it, or
  emptied, fails ``flask audit verify``.

The anchor is written after the commit (the session's ``after_commit`` event), never before:
a transaction that rolls back must not leave the anchor ahead of the database. A process that
dies between its commit and the write leaves the anchor behind by rows that exist, which
verify accepts. Writers take a lock on the file and never move it backwards (two processes
committing one after the other may run their hooks in the other order), and never overwrite an
anchor they cannot read: it is evidence for ``verify``.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app

# The label of the key derived from SECRET_KEY when AUDIT_KEY is not set (docs/audit.md):
# HMAC-SHA256(key=SECRET_KEY, message=KEY_LABEL).
KEY_LABEL = b"kijun audit-log key v1"
ANCHOR_FILE = "audit-anchor.json"
LOGGER_NAME = "audit"  # a child of the application's logger: "app.audit"

# session.info keys: the anchor a transaction's rows will leave, and whether it replaces the
# file's whatever it holds (a restored backup).
_PENDING = "kijun.audit_anchor"
_RESTART = "kijun.audit_anchor_restart"


def audit_key() -> bytes:
    """The key that signs the rows: ``AUDIT_KEY``, else derived from ``SECRET_KEY``."""
    configured = current_app.config.get("AUDIT_KEY")
    if configured:
        return str(configured).encode()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()


def row_mac(seq: int, digest: str, key: bytes) -> str:
    """The HMAC-SHA256 (hex) of a row's place in the log and its hash (which covers its
    fields and the previous row's hash)."""
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def mac_matches(seq: int | None, digest: str, mac: str | None, key: bytes) -> bool:
    """Whether a row's ``mac`` is the key's HMAC of its ``seq`` and hash."""
    if seq is None or mac is None:
        return False
    return hmac.compare_digest(mac, row_mac(seq, digest, key))


def database_identity(url: sa.URL) -> str:
    """Which database a log is in, for its anchor: the engine and the database's name (a
    SQLite file's absolute path), not the host, so that moving the server keeps it. A restore
    drill into a scratch database thus never touches the live database's anchor."""
    name = url.database or ""
    if url.get_backend_name() == "sqlite" and name not in ("", ":memory:"):
        name = os.path.abspath(name)
    return f"{url.get_backend_name()}:{name}"


@dataclass(frozen=True)
class Anchor:
    """The last row a commit left: its place in the log (= the rows up to it), hash and id,
    and the database it is in (``database_identity``)."""

    seq: int
    hash: str
    event_id: int
    database: str
    # False when the log no longer held the file's anchored row as this row was appended: the
    # log was cut, and this row must not carry the anchor past the cut (never written).
    follows_file: bool = True

    def mac(self, key: bytes) -> str:
        material = f"anchor:{self.seq}:{self.hash}:{self.event_id}:{self.database}".encode()
        return hmac.new(key, material, hashlib.sha256).hexdigest()

    def signed_text(self, key: bytes) -> str:
        values = {"seq": self.seq, "hash": self.hash, "id": self.event_id,
                  "database": self.database, "mac": self.mac(key)}
        return json.dumps(values, ensure_ascii=False, sort_keys=True) + "\n"


class AnchorError(Exception):
    """The anchor file is there but this key did not write it (edited, or another key)."""


def anchor_path() -> Path:
    """``AUDIT_ANCHOR_PATH``, else ``audit-anchor.json`` in the instance folder."""
    configured = current_app.config.get("AUDIT_ANCHOR_PATH")
    return Path(configured) if configured else Path(current_app.instance_path) / ANCHOR_FILE


def read_anchor(key: bytes) -> Anchor | None:
    """The anchor in the file (None: there is no file). AnchorError when it does not verify."""
    try:
        text = anchor_path().read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        values = json.loads(text)
        anchor = Anchor(int(values["seq"]), str(values["hash"]), int(values["id"]),
                        str(values["database"]))
        mac = str(values["mac"])
    except (ValueError, KeyError, TypeError) as error:
        raise AnchorError("unreadable") from error
    if not hmac.compare_digest(mac, anchor.mac(key)):
        raise AnchorError("mac")
    return anchor


def anchor_log() -> logging.Logger:
    """The application log's channel for anchors (``app.audit``)."""
    return current_app.logger.getChild(LOGGER_NAME)


ANCHOR_REFUSALS = {
    "database": "anchors another database",
    "cut": "names a row the log no longer holds (its end was cut)",
}


def file_anchor_quietly() -> Anchor | None:
    """The file's anchor when it verifies (None: no file, or one that does not verify)."""
    try:
        return read_anchor(audit_key())
    except AnchorError:
        return None


def write_anchor(anchor: Anchor, *, restart: bool = False) -> None:
    """Log the anchor, and write it to the file unless the file already holds a later one
    (``restart``: whatever it holds, after a restored backup). A file that does not verify,
    or that anchors another database, is left as it is and reported in the log. Never raises:
    the commit it follows has happened."""
    anchor_log().info(
        "audit anchor: seq=%d hash=%s id=%d database=%s",
        anchor.seq, anchor.hash, anchor.event_id, anchor.database,
    )
    try:
        _replace_file(anchor, restart)
    except AnchorError as error:
        anchor_log().error(
            "audit anchor: %s %s; left as it is (run `flask audit verify`)", anchor_path(),
            ANCHOR_REFUSALS.get(str(error), "does not verify with the audit key"),
        )
    except OSError as error:
        anchor_log().error("audit anchor: cannot write %s: %s", anchor_path(), error)


def _replace_file(anchor: Anchor, restart: bool) -> None:
    if not (anchor.follows_file or restart):
        raise AnchorError("cut")
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = audit_key()
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_anchor(key)
        if current is not None and current.database != anchor.database:
            raise AnchorError("database")
        if current is not None and not restart and current.seq >= anchor.seq:
            return
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".audit-anchor-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:  # mkstemp: mode 0600
                out.write(anchor.signed_text(key))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    finally:
        os.close(lock)


# --- After the commit ----------------------------------------------------------------------------


def note_append(session: so.Session, anchor: Anchor) -> None:
    """Remember the anchor a row appended in the session's transaction leaves, for the
    commit."""
    pending = session.info.get(_PENDING)
    if pending is None or pending.seq < anchor.seq:
        session.info[_PENDING] = anchor


def restart_anchor(session: so.Session) -> None:
    """Let the next commit's anchor replace the file's even if the file's is later: the
    database was replaced by a backup (``flask backup restore``), whose log ends earlier."""
    session.info[_RESTART] = True


@sa.event.listens_for(so.Session, "after_commit")
def _anchor_after_commit(session: so.Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction may still roll back
    pending = session.info.pop(_PENDING, None)
    restart = bool(session.info.pop(_RESTART, False))
    if pending is not None:
        write_anchor(pending, restart=restart)


@sa.event.listens_for(so.Session, "after_soft_rollback")
def _forget_after_rollback(session: so.Session, _previous: so.SessionTransaction) -> None:
    # Also for a savepoint's rollback: the anchor may then stay behind, never ahead.
    session.info.pop(_PENDING, None)
    session.info.pop(_RESTART, None)


def init_app(app: Flask) -> None:
    """Let the anchors reach the application log (INFO) unless logging is configured."""
    logger = app.logger.getChild(LOGGER_NAME)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
