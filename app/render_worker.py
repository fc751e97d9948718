"""PDF and Word files are written in a short-lived subprocess, not in the web worker.

WeasyPrint (PDF) and python-docx pull in fonts, layout trees and large libraries: one PDF
export raised a gunicorn worker's resident memory from about 90 MB to over 300 MB, and a
Python process never gives that back (docs/benchmarks.md). So the web worker builds the plain
data of the file (a ``ComplianceTable``, an ``AnnualReport``: dataclasses of ``reports/``) and
hands it to ``python -m app.render_worker`` on stdin; the subprocess writes the file with the
same ``reports/`` function as before, sends the bytes back on stdout and exits, taking its
memory with it.

The data goes as a pickle between two processes of this same program (never anything a
client sent), and the subprocess only runs the functions named in ``RENDERERS``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reports.printing import PdfFontError

# Seconds a file may take; a 20,000-person table's PDF takes a few.
RENDER_TIMEOUT_SECONDS = 300
_ROOT = Path(__file__).resolve().parent.parent


def _renderers() -> dict[str, Callable[[Any], bytes | None]]:
    """The functions the subprocess may run, by name (imported there only)."""
    from reports.annual import annual_docx, annual_pdf
    from reports.printing import compliance_pdf

    return {
        "compliance_pdf": compliance_pdf,
        "annual_pdf": annual_pdf,
        "annual_docx": annual_docx,
    }


RENDERERS = ("compliance_pdf", "annual_pdf", "annual_docx")


class RenderError(RuntimeError):
    """The subprocess failed (not a missing font: that is ``PdfFontError``, as in-process)."""


def render(name: str, data: Any) -> bytes:
    """The file ``name`` (one of ``RENDERERS``) of ``data``, written by a subprocess.

    Raises PdfFontError as the in-process function would, RenderError otherwise."""
    if name not in RENDERERS:
        raise ValueError(f"unknown renderer: {name}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run(
        [sys.executable, "-m", "app.render_worker"],
        input=pickle.dumps((name, data), protocol=pickle.HIGHEST_PROTOCOL),
        capture_output=True,
        timeout=RENDER_TIMEOUT_SECONDS,
        cwd=_ROOT,
        env=env,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        raise RenderError(f"render worker failed ({done.returncode}): {done.stderr[-2000:]!r}")
    outcome, value = pickle.loads(done.stdout)  # noqa: S301 - our own child's reply
    if outcome == "font":
        raise PdfFontError(value)
    return bytes(value)


def main() -> None:
    """The subprocess: read (name, data) from stdin, write ("ok", bytes) or ("font", message)
    to stdout."""
    name, data = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from our parent
    if name not in RENDERERS:
        raise SystemExit(f"unknown renderer: {name}")
    try:
        reply: tuple[str, Any] = ("ok", _renderers()[name](data))
    except PdfFontError as error:
        reply = ("font", error.message)
    sys.stdout.buffer.write(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
