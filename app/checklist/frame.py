"""The checklist page's frame, written once per process and filled in per request.

Most of a checklist page is the same for everybody who reads the same round in the same
language with the same role and menu: the header, the round's facts, the part and scene
headings, the buttons. Writing it anew with Jinja was most of the page's time once the items
were kept (rendering.py). So the page is written once with a *slot* wherever a person's own
value goes, kept under everything else it was written from (the key built by
app/checklist/routes.py ``_framed``), and each request
joins the kept pieces with its own values: the person's name, their section, the CSRF token,
the number answered and each item's fieldset (from rendering.py's kept items).

The frame is written with slots, never with anybody's values, so nothing of one person can
reach another's page; a value that is not a slot is in the key, so a frame is only ever used
for a page that would be written the same. A page with a message to show (a flash, a problem,
a notice) or a query string is always written in full. tests/rounds/test_checklist_frame.py checks
that a framed page is the very page Jinja would write, for people in different sections,
roles, menus, states and languages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, get_flashed_messages, request
from markupsafe import Markup

FRAME_CACHE_KEY = "kijun.checklist_frames"
FRAME_CACHE_SIZE = 512  # a round has a few dozen frames (role, section kinds, status, language)
_SLOT_PATTERN = re.compile("\x00kijun-slot:([^\x00]*)\x00")

# A frame: literal HTML and slot names in turn, starting and ending with literal HTML.
Frame = tuple[str, ...]


def slot(name: str) -> Markup:
    """The mark written into the frame where a request's own value ``name`` (a name of ours,
    ASCII) goes; the mark never reaches a page."""
    return Markup("\x00kijun-slot:") + name + Markup("\x00")


def framing_enabled() -> bool:
    """Whether this request's page may come from a frame: no message waiting to be shown, no
    query string (the language links repeat the address), and templates not being reloaded
    (the development server would not show a changed template)."""
    return not (
        # Flask keeps the messages it hands out for the rest of the request: the page's own
        # call gets the same ones.
        current_app.jinja_env.auto_reload or request.query_string or get_flashed_messages()
    )


def framed(key: tuple[Any, ...], write: Callable[[], str], values: Mapping[str, str]) -> str:
    """The page for ``key``: its frame (written by ``write`` the first time, with slots) with
    each slot replaced by ``values[name]`` (already escaped HTML)."""
    cache: dict[tuple[Any, ...], Frame] = current_app.extensions.setdefault(
        FRAME_CACHE_KEY, {}
    )
    frame = cache.get(key)
    if frame is None:
        frame = tuple(_SLOT_PATTERN.split(write()))
        if len(cache) >= FRAME_CACHE_SIZE:
            cache.clear()
        cache[key] = frame
    pieces = list(frame)
    pieces[1::2] = [values[name] for name in frame[1::2]]
    return "".join(pieces)
