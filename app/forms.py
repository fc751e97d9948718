"""What the areas' WTForms forms share."""

from typing import Any, TypeVar

from wtforms import Field, ValidationError

# A choice of a SelectField or RadioField (value, label). types-WTForms 3.2, the newest
# stubs, predate it (WTForms 3.3), so mypy sees it as Any.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from app.services.one_line import one_line_problem

__all__ = ["OneLine", "SelectChoice", "required"]

T = TypeVar("T")


def required(data: T | None) -> T:
    """A required field's data once its form has validated.

    WTForms types every field's ``data`` as optional; after ``validate()`` passed, a field
    with InputRequired/DataRequired (or FileRequired) holds a value, and this says so to the
    type checker. Reading it before validation is a programming error."""
    if data is None:
        raise ValueError("a required field was read before its form validated")
    return data


class OneLine:
    """A field whose text reaches a mail header or a line of a mail (a title, a name): no line
    break or other control character (``app.services.one_line``) once trimmed as the service
    trims it (white space at either end goes). The message names the field by its label."""

    def __call__(self, form: Any, field: Field) -> None:
        problem = one_line_problem((field.data or "").strip(), str(field.label.text))
        if problem is not None:
            raise ValidationError(problem)
