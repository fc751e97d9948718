"""The forms of the committee's pages: which group, which level and role to show (GET, no
CSRF token: they only choose what to read, so the chosen view has its own address and works
without JavaScript), and the improvement actions (POST, with the token; the list's filter by
GET).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.forms import SelectChoice
from app.services.results.compliance import ALL, Group

LEVEL_CHOICES = [
    SelectChoice("ward", _l("区ごと")),
    SelectChoice("department", _l("部ごと")),
    SelectChoice("section", _l("課ごと")),
]
ROLE_CHOICES = [SelectChoice("staff", _l("職員")), SelectChoice("chief", _l("所属長"))]
INDENT = {"all": "", "ward": "", "department": "\u3000", "section": "\u3000\u3000"}


class GroupForm(FlaskForm):
    """Which group of the round to show (the round as a whole, a ward, department, section)."""

    class Meta:
        csrf = False

    group = SelectField(_l("表示する集計単位"), description=_l("区・部・課を選べます。"))


def group_form(groups: Sequence[Group], formdata: object, selected: str) -> GroupForm:
    form = GroupForm(formdata=formdata, group=selected)
    # In a one-ward round the ward is the whole round: list it once.
    whole = next((g for g in groups if g.key == ALL), None)
    one_ward = whole is not None and sum(1 for g in groups if g.level == "ward") == 1
    form.group.choices = [
        SelectChoice(g.key, INDENT[g.level] + g.name)
        for g in groups
        if not (one_ward and g.level == "ward")
    ]
    return form


class BreakdownForm(FlaskForm):
    """Which level of groups and which role a breakdown shows."""

    class Meta:
        csrf = False

    level = SelectField(_l("集計単位"), choices=LEVEL_CHOICES, default="department")
    role = SelectField(_l("区分"), choices=ROLE_CHOICES, default="staff")


class ActionForm(FlaskForm):
    """An improvement action: the standard, what will be done, its owner (a person of a
    section's roster: the section comes with them), by when. The view sets the choices from
    the round's standards and the rosters of the reader's wards; the service checks them."""

    standard = SelectField(_l("基準"), validate_choice=False)
    action = TextAreaField(
        _l("取組の内容"),
        validators=[InputRequired(message=_l("取組の内容を書いてください。")), Length(max=1000)],
    )
    owner = SelectField(
        _l("担当者"),
        description=_l("課ごとに、今年度の名簿の人から選びます。所属長と担当者にメールが届きます。"),
        validate_choice=False,
    )
    due = DateField(
        _l("期限"), validators=[InputRequired(message=_l("期限を日付で入れてください。"))]
    )


STATUS_CHOICES = [
    SelectChoice("todo", _l("未着手")),
    SelectChoice("doing", _l("対応中")),
    SelectChoice("done", _l("完了")),
    SelectChoice("dropped", _l("見送り")),
]


class ProgressForm(FlaskForm):
    """Where an action stands: the status (a reason for 見送り), what was done, evidence."""

    status = RadioField(_l("状況"), choices=STATUS_CHOICES, validate_choice=False)
    reason = TextAreaField(
        _l("見送りの理由"), description=_l("見送りにするときは必ず書いてください。"),
        validators=[Length(max=1000)],
    )
    outcome = TextAreaField(_l("実施したこと"), validators=[Length(max=1000)])
    evidence_url = StringField(
        _l("根拠のリンク（任意）"),
        description=_l("http:// か https:// で始まるアドレス。庁内の資料の場所など。"),
        validators=[Length(max=2000)],
    )
    evidence_note = TextAreaField(_l("根拠のメモ（任意）"), validators=[Length(max=1000)])


class EditActionForm(ActionForm, ProgressForm):
    """The committee's change of an action: everything."""


class ActionListForm(FlaskForm):
    """Which actions the committee's list shows (GET, no token): the view sets the sections."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("状況"),
        choices=[
            SelectChoice("open", _l("未完了（未着手・対応中）")),
            SelectChoice("all", _l("すべて")),
            *STATUS_CHOICES,
        ],
        default="open",
    )
    section = SelectField(_l("担当の課"), default="")
    overdue = BooleanField(_l("期限を過ぎたものだけ"))


class CityForm(FlaskForm):
    """Which fiscal year and role the city page shows; the view sets the years' choices."""

    class Meta:
        csrf = False

    year = SelectField(_l("年度"), coerce=int)
    role = SelectField(_l("区分"), choices=ROLE_CHOICES, default="staff")
