"""Who may keep a copy of a response: nobody, but for the public static assets.

Office PCs are shared: a page, an API reply or a download left in the browser's cache (or a
proxy's) is readable by the next person at that desk. One ``after_request`` hook, registered
by the factory (``register_caching``), so that no route has to remember it: every response
gets ``Cache-Control: no-store`` and ``Pragma: no-cache`` (for HTTP/1.0 caches), replacing
what a view or ``send_file`` set (``no-cache``, ``max-age=0``), unless its view is a public
static asset: Flask's ``static`` endpoint and the views marked ``@cacheable`` (plotly.js),
which keep their own caching. A signed-in person's pages, every API reply and every download
are covered without asking who is signed in (which would cost the sign-in's query on public
pages); the public pages of an anonymous reader are not worth a rule of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request

F = TypeVar("F", bound=Callable[..., Any])

NO_STORE = "no-store"


def cacheable(view: F) -> F:
    """Mark a view that serves a public static asset: its response keeps its own caching."""
    view.cacheable = True  # type: ignore[attr-defined]  # a marker on the function
    return view


def is_static_asset(endpoint: str | None) -> bool:
    """True for Flask's static files and the views marked ``@cacheable``."""
    if endpoint is None:
        return False
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "cacheable", False))


def no_store(response: Response) -> Response:
    """``Cache-Control: no-store`` on every response but the static assets'."""
    if is_static_asset(request.endpoint):
        return response
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Pragma"] = "no-cache"
    response.headers.pop("Expires", None)
    return response


def register_caching(app: Flask) -> None:
    """The one ``after_request`` hook that keeps responses out of caches."""
    app.after_request(no_store)
