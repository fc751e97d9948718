"""Files that hold personal data are the app's user's alone: mode 0600, their folders 0700.

The embedded SQLite database (and the ``-wal``/``-shm``/``-journal`` files SQLite makes beside
it with the database's mode), its backups, and the rosters waiting for their confirmation
(``app.services.organisation.roster_upload``) all hold names, mail addresses or answers; on a
server where other accounts log in, the umask's usual 0644 would let every one of them read
those.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create the folder (0700) if it is missing; take the group's and others' access away
    from one that exists (when it is ours to change)."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, created 0600 (an existing file is made 0600 first). A
    symbolic link at ``path`` is refused (``OSError``), not followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    with open(os.open(path, flags, PRIVATE_FILE), "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE)
        handle.write(data)


def ensure_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (so that whatever writes it
    next, SQLite say, keeps that mode); make an existing file of ours 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        _tighten(path, PRIVATE_FILE)
    except FileNotFoundError:
        return  # no such folder: SQLite says so itself when it opens the file
    else:
        os.close(fd)


def make_private(path: Path) -> None:
    """Mode 0600 for a file just written (a backup, before it is moved into place)."""
    os.chmod(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    """``mode`` for a file or folder that gives the group or others any access, if it is ours
    (another owner's file is left alone: only its owner or root may change it)."""
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        os.chmod(path, mode)
