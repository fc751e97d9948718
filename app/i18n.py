"""The language of the pages: Japanese unless the person chose English with the switch.

The choice is a ``lang`` cookie set by ``/language/<code>`` (``auth.language``). The browser's
Accept-Language is deliberately ignored: the service is Japanese first, and a browser set to
English must not turn the staff's pages English by surprise.
"""

from flask import current_app, has_request_context, request

LANGUAGES: tuple[str, ...] = ("ja", "en")
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """Flask-Babel's locale selector: the ``lang`` cookie when valid, else the default (ja)."""
    if has_request_context():
        chosen = request.cookies.get(LANG_COOKIE)
        if chosen in LANGUAGES:
            return chosen
    return str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "ja")
