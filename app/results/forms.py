"""The forms of the committee's pages: which group, which level and role to show (GET, no
CSRF token: they only choose what to read, so the chosen view has its own address and works
without JavaScript), and the improvement actions (POST, with the token).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, TextAreaField
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
    """An improvement action: the standard, what will be done, by which section, by when.
    The choices are set by the view from the round's standards and the reader's wards."""

    standard = SelectField(
        _l("基準"), validators=[InputRequired(message=_l("基準を選んでください。"))]
    )
    action = TextAreaField(
        _l("取組の内容"),
        validators=[InputRequired(message=_l("取組の内容を書いてください。")), Length(max=1000)],
    )
    section = SelectField(
        _l("担当の課"),
        coerce=int,
        validators=[InputRequired(message=_l("担当の課を選んでください。"))],
    )
    due = DateField(
        _l("期限"), validators=[InputRequired(message=_l("期限を日付で入れてください。"))]
    )


class OutcomeForm(FlaskForm):
    """What the section did about an action."""

    outcome = TextAreaField(
        _l("実施したこと"),
        validators=[InputRequired(message=_l("実施したことを書いてください。")), Length(max=1000)],
    )


class CityForm(FlaskForm):
    """Which fiscal year and role the city page shows; the view sets the years' choices."""

    class Meta:
        csrf = False

    year = SelectField(_l("年度"), coerce=int)
    role = SelectField(_l("区分"), choices=ROLE_CHOICES, default="staff")
