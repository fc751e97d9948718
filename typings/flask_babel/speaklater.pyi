from collections.abc import Callable
from typing import Any

# At run time LazyString is not a str subclass: it wraps a translation that is looked up
# each time it is used (str(), %, +, a Jinja template) and forwards every str method to the
# result. Declaring it a str lets it stand where WTForms' stubs and our code take a str
# (a field's label, a validator's message), which is how the library is meant to be used.
class LazyString(str):
    def __init__(self, func: Callable[..., str], *args: Any, **kwargs: Any) -> None: ...
    def __html__(self) -> str: ...
