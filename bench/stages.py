"""Where a checklist request spends its time: the page and a first submit, in-process.

The app runs in this process (Flask's test client, one request at a time, no gunicorn and no
load generator) on the benchmark's database, signed in by the trusted header. The functions
that make up a request are wrapped with timers for the run and restored afterwards; what is
left of the whole request is Flask, Werkzeug, Flask-Login, the session cookie and the CSRF
token. docs/benchmarks.md (1) uses this table to say what bounds the checklist's ratios.
"""

from __future__ import annotations

import gc
import importlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from app import create_app
from bench.http_load import HEADER, answers_for, staff_of_open_round, unanswered_staff

# (label, module, attribute): the parts timed. A part inside another is listed after it and
# its time is taken out of the outer part's own line.
PAGE_PARTS = (
    ("sign-in: the person and their roles (1 query; no BEGIN/COMMIT)", "app.access",
     "load_signed_in"),
    ("the round, the person's place in it and their answers (1 query; the round's standards "
     "and blank items kept per process)", "app.services.rounds.checklist_page", "checklist_for"),
    ("the page from its kept frame (app/checklist/frame.py): the name, section, CSRF token "
     "and answered count filled in", "app.checklist.routes", "_framed"),
    ("the items' HTML (kept per process)", "app.checklist.routes", "items_html"),
)
SUBMIT_PARTS = (
    ("sign-in: the person and their roles (1 query; no BEGIN/COMMIT)", "app.access",
     "load_signed_in"),
    ("checking the answers sent against the round's standards (kept per process)",
     "app.services.rounds.checklist_save", "_validated"),
    ("the person's place in the round, the response, its answers and its status (1 statement, "
     "the round's share lock in it)", "app.services.rounds.checklist_save", "_first_save_row"),
    ("the reply (JSON)", "app.api.routes", "checklist_fields"),
)
SAVE = ("app.api.routes", "save_checklist")
SERVICE = "app.services.rounds.checklist"  # the service's modules (checklist_page, checklist_save)
WRITES = "the rest of the save (building the result)"
# Aliases of the parts imported by name elsewhere, wrapped with the same label.
ALIASES = {("app.access", "load_signed_in"): [("app.auth.sso", "load_signed_in")],
           ("app.services.rounds.checklist_page", "checklist_for"): [("app.checklist.routes",
                                                          "checklist_for")]}


@contextmanager
def _timed(
    parts: tuple[tuple[str, str, str], ...], totals: defaultdict[str, float]
) -> Iterator[None]:
    """Wrap each part so that its wall time adds to ``totals[label]``; restore on exit."""
    saved: list[tuple[Any, str, Any]] = []

    def wrap(module_name: str, name: str, label: str) -> None:
        module: Any = importlib.import_module(module_name)
        owner, _dot, name = name.rpartition(".")
        if owner:  # a method: wrapped on its class
            module = getattr(module, owner)
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - start

        saved.append((module, name, original))
        setattr(module, name, timed)

    try:
        for label, module_name, name in parts:
            wrap(module_name, name, label)
            for alias in ALIASES.get((module_name, name), []):
                wrap(*alias, label)
        yield
    finally:
        for module, name, original in reversed(saved):
            setattr(module, name, original)


def _measure(
    send: Callable[[int], Any], parts: tuple[tuple[str, str, str], ...], requests: int
) -> dict[str, Any]:
    """Time ``requests`` calls of ``send(i)`` after 5 warm-up calls (templates, prepared
    statements), and each part's share; "the rest" is the whole minus the parts."""
    for i in range(5):
        send(i)
    totals: defaultdict[str, float] = defaultdict(float)
    with _timed(parts, totals):
        start = time.perf_counter()
        cpu = time.process_time()
        for i in range(5, 5 + requests):
            send(i)
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    ms = {label: totals[label] * 1000 / requests for label, _m, _n in parts}
    if "save" in ms:  # the save's own statements: the save minus its timed steps
        inner = [label for label, module, _n in parts if module.startswith(SERVICE)]
        ms[WRITES] = ms.pop("save") - sum(ms[label] for label in inner)
    whole = wall * 1000 / requests
    ms["the rest: Flask, Werkzeug, Flask-Login, the session cookie"] = whole - sum(ms.values())
    return {
        "requests": requests,
        "ms_per_request": whole,
        "cpu_ms_per_request": cpu * 1000 / requests,
        "parts_ms": ms,
    }


def run(database_url: str, requests: int = 300) -> dict[str, Any]:
    """The page (``requests`` GETs by different staff) and first submits by staff who have not
    answered yet, each split into its parts; /healthz in the same process for scale. Run after
    the load and the spike: it submits for some of the staff they left unanswered."""
    app = create_app({"SECRET_KEY": "bench-only-secret", "SQLALCHEMY_DATABASE_URI": database_url,
                      "AUTH_TRUSTED_HEADER": HEADER})
    gc.freeze()  # as wsgi.py does
    round_id, staff, keys = staff_of_open_round(database_url)
    fresh = unanswered_staff(database_url, round_id, staff)
    n = min(requests, len(staff), len(fresh) - 5)
    if n < 1:
        raise RuntimeError(f"only {len(fresh)} staff have not answered the open round")
    client = app.test_client(use_cookies=False)  # like the load generator: a new visitor each
    page = f"/rounds/{round_id}/checklist"
    api = f"/api/v1/rounds/{round_id}/checklist"

    def ok(response: Any) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.get_data(as_text=True)[:200]}")

    def health(_i: int) -> None:
        ok(client.get("/healthz"))

    def get(i: int) -> None:
        ok(client.get(page, headers={HEADER: staff[i % len(staff)]}))

    def put(i: int) -> None:
        ok(client.put(api, headers={HEADER: fresh[i]}, json=answers_for(keys, i)))

    save = ("save", *SAVE)
    result = {
        "healthz": _measure(health, (), n),
        "page": _measure(get, PAGE_PARTS, n),
        "submit": _measure(put, (*SUBMIT_PARTS, save), n),
    }
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    return result
