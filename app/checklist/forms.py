"""The checklist form, built per checklist: one radio group and one comment per standard.

Field names are the standards' keys (lowercase slugs with hyphens) for the radio groups and
``comment__<key>`` for the comments; the buttons and the CSRF token carry underscores, which a
key never has, so the names cannot collide.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from app.forms import SelectChoice
from app.services.rounds.checklist import COMMENT_MAX_LENGTH, ChecklistItem

ANSWER_CHOICES = [
    SelectChoice("yes", _l("できている")),
    SelectChoice("no", _l("できていない")),
    SelectChoice("na", _l("該当しない")),
]
COMMENT_PREFIX = "comment__"
# The answers in words, by stored value (the receipt).
ANSWER_LABELS = {choice.value: choice.label for choice in ANSWER_CHOICES}


class ChecklistForm(FlaskForm):
    """The buttons and helpers; the per-standard fields are added by ``checklist_form_class``."""

    save_draft = SubmitField(_l("一時保存"))
    submit_answers = SubmitField(_l("提出する"))

    item_keys: Sequence[str] = ()

    @staticmethod
    def choice_labels() -> list[tuple[str, str]]:
        """The three answers as (value, label) in the page's language."""
        return [(choice.value, str(choice.label)) for choice in ANSWER_CHOICES]

    def comment_field(self, key: str) -> Field:
        return self[COMMENT_PREFIX + key]

    def answers(self) -> dict[str, str]:
        """The chosen values by standard key (unanswered items left out)."""
        return {key: self[key].data for key in self.item_keys if self[key].data}

    def comments(self) -> dict[str, str]:
        """Every comment by standard key, trimmed ("" clears a comment)."""
        return {key: (self.comment_field(key).data or "").strip() for key in self.item_keys}


def checklist_form_class(items: Sequence[ChecklistItem]) -> type[ChecklistForm]:
    """A form class with one RadioField named by each item's key and an optional comment."""
    attrs: dict[str, object] = {"item_keys": tuple(item.key for item in items)}
    for item in items:
        if hasattr(ChecklistForm, item.key):
            raise ValueError(f"standard key {item.key!r} clashes with a form attribute")
        # invalid_choice_message is WTForms 3.3; types-WTForms 3.2 does not know it yet.
        attrs[item.key] = RadioField(  # type: ignore[call-arg]
            f"{item.number}. {item.text}",
            choices=ANSWER_CHOICES,
            validators=[Optional()],
            invalid_choice_message=_l("できている・できていない・該当しない から選んでください。"),
        )
        attrs[COMMENT_PREFIX + item.key] = TextAreaField(
            _l("ひとこと（任意）"),
            validators=[
                Optional(),
                Length(
                    max=COMMENT_MAX_LENGTH,
                    message=_l("ひとことは %(max)d 文字までにしてください。"),
                ),
            ],
        )
    return type("DynamicChecklistForm", (ChecklistForm,), attrs)


def checklist_form(items: Sequence[ChecklistItem]) -> ChecklistForm:
    """The form for these items, filled with the stored answers (request data wins on POST)."""
    data: dict[str, object] = {}
    for item in items:
        data[item.key] = str(item.value) if item.value is not None else None
        data[COMMENT_PREFIX + item.key] = item.comment or ""
    return checklist_form_class(items)(data=data)
