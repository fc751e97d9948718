"""The forms of the catalogue editor: next year's draft, a standard, the numbers, publishing."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import OneLine, SelectChoice
from app.i18n import SCENE_WORDS
from app.models import SCENES, SECTION_KINDS
from app.services.catalogue.drafts import NUMBER_MAX, TEXT_MAX_LENGTH, StandardChange
from app.services.catalogue.parsing import KEY_MAX_LENGTH, TITLE_MAX_LENGTH

AUDIENCE_CHOICES = [
    SelectChoice("everyone", _l("全員（職員も所属長も、自分について答える）")),
    SelectChoice("section", _l("課として（所属長が課として1回答える）")),
]


class NextYearForm(FlaskForm):
    """The key and title of next year's draft (both proposed from this year's)."""

    key = StringField(
        _l("カタログのキー"),
        description=_l("英小文字・数字・ハイフン（例 takatsu-2026）。あとから変えられません。"),
        validators=[
            InputRequired(message=_l("キーを入れてください。")),
            Length(max=KEY_MAX_LENGTH, message=_l("キーは %(max)d 文字までにしてください。",
                                                  max=KEY_MAX_LENGTH)),
        ],
    )
    title = StringField(
        _l("題名"),
        validators=[
            InputRequired(message=_l("題名を入れてください。")),
            Length(max=TITLE_MAX_LENGTH, message=_l("題名は %(max)d 文字までにしてください。",
                                                    max=TITLE_MAX_LENGTH)),
            OneLine(),
        ],
    )


class StandardForm(FlaskForm):
    """One standard: number, text, scene, audience and, for a section standard, its kinds."""

    # A StringField read by validate_number: IntegerField's own refusal is a terse message.
    number = StringField(
        _l("番号（No.）"),
        validators=[InputRequired(message=_l("番号を数字で入れてください。"))],
    )
    text = TextAreaField(
        _l("基準の文"),
        description=_l("回答する人が読む文です（%(max)s 文字まで）。", max=TEXT_MAX_LENGTH),
        validators=[
            InputRequired(message=_l("基準の文を入れてください。")),
            Length(max=TEXT_MAX_LENGTH,
                   message=_l("基準の文は %(max)s 文字までにしてください。", max=TEXT_MAX_LENGTH)),
        ],
    )
    # validate_choice=False: the choices are checked below, with messages that say what to do.
    scene = RadioField(
        _l("場面"),
        choices=[SelectChoice(s, label) for s, label in zip(SCENES, SCENE_WORDS, strict=True)],
        validators=[InputRequired(message=_l("場面を選んでください。"))],
        validate_choice=False,
    )
    audience = RadioField(
        _l("だれが答えるか"),
        choices=AUDIENCE_CHOICES,
        default="everyone",
        validators=[InputRequired(message=_l("だれが答えるかを選んでください。"))],
        validate_choice=False,
    )
    section_kinds = SelectMultipleField(
        _l("課の種類（課として答える基準だけ。選ばなければ全部の課）"),
        choices=[SelectChoice(k, k) for k in SECTION_KINDS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )

    def validate_number(self, field: Any) -> None:
        text = unicodedata.normalize("NFKC", field.data or "").strip()
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= NUMBER_MAX:
            raise ValidationError(
                _l("番号は 1 から %(max)s までの数で入れてください。", max=NUMBER_MAX)
            )

    def validate_scene(self, field: Any) -> None:
        if field.data not in SCENES:
            raise ValidationError(_l("場面を選んでください。"))

    def validate_audience(self, field: Any) -> None:
        if field.data not in {c.value for c in AUDIENCE_CHOICES}:
            raise ValidationError(_l("だれが答えるかを選んでください。"))

    def validate_section_kinds(self, field: Any) -> None:
        if any(kind not in SECTION_KINDS for kind in field.data or ()):
            raise ValidationError(_l("課の種類は一覧から選んでください。"))
        if field.data and self.audience.data != "section":
            raise ValidationError(
                _l("課の種類は「課として」答える基準にだけ選べます（全員が答える基準には選べません）。")
            )

    def change(self) -> StandardChange:
        return StandardChange(
            number=int(unicodedata.normalize("NFKC", self.number.data or "0").strip()),
            text=(self.text.data or "").strip(),
            scene=self.scene.data or "",
            audience=self.audience.data or "",
            section_kinds=tuple(self.section_kinds.data or ()),
        )


class ConfirmForm(FlaskForm):
    """A button that needs only the CSRF token (retire a standard)."""


class PublishForm(FlaskForm):
    """Publishing asks for an explicit confirmation."""

    confirm = BooleanField(
        _l("この基準で調査を作れるようにします（公開したあとは下書きに戻せません）"),
        validators=[InputRequired(message=_l("確かめたら、チェックを入れてください。"))],
    )
