# Flask-Login 0.6: the parts Kijun uses.
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, Request
from flask.typing import ResponseReturnValue

_UserLoader = TypeVar("_UserLoader", bound=Callable[[str], Any])
_RequestLoader = TypeVar("_RequestLoader", bound=Callable[[Request], Any])
_Handler = TypeVar("_Handler", bound=Callable[[], Any])

class UserMixin:
    __hash__: Any
    @property
    def is_active(self) -> bool: ...
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    def get_id(self) -> str: ...

class AnonymousUserMixin:
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    def get_id(self) -> None: ...

class LoginManager:
    login_view: str | None
    login_message: str
    session_protection: str | None
    def __init__(self, app: Flask | None = None, add_context_processor: bool = True) -> None: ...
    def init_app(self, app: Flask, add_context_processor: bool = True) -> None: ...
    def unauthorized(self) -> ResponseReturnValue: ...
    def user_loader(self, callback: _UserLoader) -> _UserLoader: ...
    def request_loader(self, callback: _RequestLoader) -> _RequestLoader: ...
    def unauthorized_handler(self, callback: _Handler) -> _Handler: ...

# The signed-in person (whatever the user_loader returned) or an AnonymousUserMixin: a proxy
# whose type the library cannot know; the views cast `current_user._get_current_object()`.
current_user: Any

def login_user(
    user: Any,
    remember: bool = False,
    duration: timedelta | None = None,
    force: bool = False,
    fresh: bool = True,
) -> bool: ...
def logout_user() -> bool: ...
