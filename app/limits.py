"""Limits on what a request may bring (docs/deploy.md, "Input limits").

One mechanism each, registered by the factory, so that no route has to remember them:

- ``MAX_CONTENT_LENGTH`` bounds every request body (413 above it). The routes that take a
  roster or goal sheet are marked with ``@upload`` and get ``IMPORT_MAX_BYTES`` instead (the
  file plus a little room for the form around it); the limit is raised before any other
  ``before_request`` (the CSRF check reads the form) parses the body.
- ``<int:...>`` in every URL rule is ``IdConverter``: a number above PostgreSQL's ``integer``
  (2³¹−1) does not match the rule, so it is a 404 like any id that does not exist, instead of
  an error from the database.
- A path or a query argument (name or value) with a control character (U+0000 to U+001F; a
  NUL is what PostgreSQL's text cannot hold) is refused with ``UnreadableAddress`` (a 400 page
  saying so) before any view runs, on every route, and before a 404 for a path no rule has.
- A form field with a NUL or another control character but tab, CR and LF is refused with
  ``UnstorableText`` (a 400 page saying so) before any view runs; a view that names the field
  itself (the checklist's comments) is marked ``@checks_own_text``.
- A page number (``page``, ``per_page``: ``db.paginate`` reads them) beyond ``MAX_PAGE`` is
  refused the same way (``UnreadableAddress``, a 400), instead of an OFFSET beyond the
  database's integers.
- JSON bodies are parsed by ``BoundedJSONProvider``: nesting deeper than ``JSON_MAX_DEPTH`` is
  a decoding error (the API answers it as it answers malformed JSON), never a RecursionError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from flask import Config, Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# The largest value of PostgreSQL's ``integer``, the type of every id column.
MAX_ID = 2**31 - 1
# The largest page number a paged list (``db.paginate``) reads from its ``page`` argument.
MAX_PAGE = MAX_ID
# The query arguments ``db.paginate`` reads as integers.
PAGE_ARGS = ("page", "per_page")
# Control characters: none in a path or a query; a form may hold tab, LF and CR.
ADDRESS_CONTROLS = re.compile("[\x00-\x1f]")
FORM_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Room for the multipart envelope and the form's other fields around an uploaded file.
UPLOAD_FORM_ALLOWANCE = 64 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def _at_most(limit: int) -> str:
    """A regular expression of the decimal numbers from 0 to ``limit``, without leading zeros:
    for 2³¹−1, ``[1-9][0-9]{0,8}|0|[1-1][0-9]{9}|2[0-0][0-9]{8}|…|214748364[0-6]|2147483647``."""
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}|0" if len(digits) > 1 else ""
    same_length = []
    for i, digit in enumerate(digits):
        rest = len(digits) - i - 1
        low = "1" if i == 0 and len(digits) > 1 else "0"
        if int(digit) > int(low):
            tail = f"[0-9]{{{rest}}}" if rest else ""
            same_length.append(f"{digits[:i]}[{low}-{int(digit) - 1}]{tail}")
    same_length.append(digits)
    return "|".join(filter(None, [shorter, *same_length]))


class IdConverter(IntegerConverter):
    """``<int:...>``: a non-negative integer that fits the database's ``integer`` columns.

    The bound is in the regular expression, not only in ``max``: werkzeug checks ``max`` after
    choosing the rule, and a larger id would then be a 405 when the path has rules for other
    methods; a path that no rule matches is a plain 404.
    """

    regex = _at_most(MAX_ID)

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but refusing (``ValueError``) documents nested deeper than
    ``JSON_MAX_DEPTH``: Python's parser would recurse until a RecursionError (a 500)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.config: Config = app.config  # the app's own, read at every document

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc
        check_json_depth(value, int(self.config.get("JSON_MAX_DEPTH", 32)))
        return value


def check_json_depth(value: Any, max_depth: int) -> None:
    """Raise ``ValueError`` when arrays and objects nest deeper than ``max_depth``."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise ValueError(f"JSON nested deeper than {max_depth}")
        pending.extend((child, depth + 1) for child in children)


def upload(view: F) -> F:
    """Mark a view that receives a roster or goal sheet: its body may be ``IMPORT_MAX_BYTES``."""
    view.takes_upload = True  # type: ignore[attr-defined]  # a marker on the function
    return view


def checks_own_text(view: F) -> F:
    """Mark a view that refuses NUL characters in its form itself, beside the field."""
    view.checks_own_text = True  # type: ignore[attr-defined]  # a marker on the function
    return view


class UnstorableText(BadRequest):
    """A form field holds a NUL or another control character (app.errors shows a page that
    says so)."""


class UnreadableAddress(BadRequest):
    """The path or the query holds a control character (``reason`` "control"), or a page
    number beyond ``MAX_PAGE`` ("page"); app.errors shows a page that says which, the API a
    JSON error."""

    def __init__(self, reason: Literal["control", "page"]) -> None:
        super().__init__()
        self.reason = reason


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _check_address() -> None:
    """No control character in the path or the query; no page number beyond ``MAX_PAGE``."""
    if ADDRESS_CONTROLS.search(request.path) or any(
        ADDRESS_CONTROLS.search(name) or ADDRESS_CONTROLS.search(value)
        for name, value in request.args.items(multi=True)
    ):
        raise UnreadableAddress("control")
    for name in PAGE_ARGS:
        for value in request.args.getlist(name):
            try:
                number = int(value)
            except ValueError:
                continue  # not a number: db.paginate answers it with a 404 itself
            if abs(number) > MAX_PAGE:
                raise UnreadableAddress("page")


def _check_request() -> None:
    """Before any other ``before_request``: the path and the query (``_check_address``), the
    upload limit for views marked ``@upload`` (set before the CSRF check reads the form), then
    no control character but tab, CR and LF in a form's fields."""
    _check_address()
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "takes_upload", False):
        request.max_content_length = (
            int(current_app.config["IMPORT_MAX_BYTES"]) + UPLOAD_FORM_ALLOWANCE
        )
    if request.mimetype not in _FORM_TYPES or getattr(view, "checks_own_text", False):
        return
    if any(FORM_CONTROLS.search(value) for _name, value in request.form.items(multi=True)):
        raise UnstorableText()


def register_limits(app: Flask) -> None:
    """The id converter, the JSON depth bound, the check of the path and the query, the
    upload allowance and the control-character check of forms. Call it before the blueprints
    are registered (their rules take the converter when added) and before the extensions (the
    allowance must run before Flask-WTF's CSRF check reads the form)."""
    app.url_map.converters["int"] = IdConverter
    app.json = BoundedJSONProvider(app)
    app.before_request(_check_request)
