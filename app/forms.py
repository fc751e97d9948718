"""What the areas' WTForms forms share."""

from typing import TypeVar

# A choice of a SelectField or RadioField (value, label). types-WTForms 3.2, the newest
# stubs, predate it (WTForms 3.3), so mypy sees it as Any.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

__all__ = ["SelectChoice", "required"]

T = TypeVar("T")


def required(data: T | None) -> T:
    """A required field's data once its form has validated.

    WTForms types every field's ``data`` as optional; after ``validate()`` passed, a field
    with InputRequired/DataRequired (or FileRequired) holds a value, and this says so to the
    type checker. Reading it before validation is a programming error."""
    if data is None:
        raise ValueError("a required field was read before its form validated")
    return data
