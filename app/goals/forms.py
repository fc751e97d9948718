"""Forms of the goal pages: a section's or team's three goal slots, a team, the year plan,
the import upload and the confirmation buttons."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import Form, FormField, HiddenField, StringField, TextAreaField
from wtforms.fields import FieldList
from wtforms.validators import InputRequired, Length, Optional

from app.models import ServiceGoal
from app.services.goals.goals import (
    COMMITTEE_NAME_MAX_LENGTH,
    MAX_GOALS,
    SCENE_MAX_LENGTH,
    TEAM_NAME_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    GoalInput,
)


class GoalSlot(Form):
    """One goal: scene, goal and result; a slot left wholly empty is no goal."""

    scene = StringField(
        _l("場面"),
        description=_l("例: 対面応対、庁内体制、共通、お知らせ"),
        validators=[Optional(), Length(max=SCENE_MAX_LENGTH)],
    )
    goal = TextAreaField(
        _l("目標及び具体的な取組内容"), validators=[Optional(), Length(max=TEXT_MAX_LENGTH)]
    )
    result = TextAreaField(
        _l("実施結果及び目標の達成度"),
        description=_l("年度末に入力します。"),
        validators=[Optional(), Length(max=TEXT_MAX_LENGTH)],
    )


class GoalsForm(FlaskForm):
    """Up to three goals."""

    goals = FieldList(FormField(GoalSlot), min_entries=MAX_GOALS, max_entries=MAX_GOALS)

    def inputs(self) -> list[GoalInput]:
        """The filled slots as numbered goals (a goal's number is its slot)."""
        out = []
        for number, slot in enumerate(self.goals.entries, 1):
            data = slot.form.data
            if any((data.get(k) or "").strip() for k in ("scene", "goal", "result")):
                out.append(GoalInput(number, data["scene"] or "", data["goal"] or "",
                                     data["result"] or ""))
        return out


def goals_form(goals: list[ServiceGoal]) -> GoalsForm:
    """The form filled with the stored goals (request data wins on POST)."""
    by_position = {g.position: g for g in goals}
    slots = []
    for number in range(1, MAX_GOALS + 1):
        goal = by_position.get(number)
        slots.append(
            {"scene": goal.scene, "goal": goal.goal, "result": goal.result or ""}
            if goal else {"scene": "", "goal": "", "result": ""}
        )
    return GoalsForm(data={"goals": slots})


class TeamForm(FlaskForm):
    name = StringField(
        _l("チームの名前"),
        description=_l("例: 研修ワーキングチーム"),
        validators=[InputRequired(message=_l("チームの名前を入力してください。")),
                    Length(max=TEAM_NAME_MAX_LENGTH)],
    )
    purpose = TextAreaField(_l("目的"), validators=[Optional(), Length(max=TEXT_MAX_LENGTH)])
    members = TextAreaField(
        _l("メンバー（職員番号）"),
        description=_l("職員番号を1行に1人、または空白・読点で区切って入力します。"),
        validators=[Optional()],
    )


class PlanForm(FlaskForm):
    policy = TextAreaField(
        _l("サービス向上方針"),
        description=_l("1行に1項目。番号（①②…）は報告書で自動で付きます。"),
        validators=[Optional()],
    )
    summary = TextAreaField(
        _l("総括"), description=_l("1行が1段落になります。"), validators=[Optional()]
    )
    committee_name = StringField(
        _l("委員会（部会）の名前"),
        description=_l("例: サービス推進部会"),
        validators=[InputRequired(message=_l("委員会（部会）の名前を入力してください。")),
                    Length(max=COMMITTEE_NAME_MAX_LENGTH)],
    )
    committee_members = TextAreaField(
        _l("委員会の組織"),
        description=_l("1行に1人、「役職：所属」の形で（例 部会長：区民サービス部長）。"
                       "役職を省くと上の行と同じ役職の扱いになります。"),
        validators=[Optional()],
    )


class ImportForm(FlaskForm):
    sheet = FileField(
        _l("目標のシート（.xlsx）"),
        description=_l("列: 部署名、No、場面、目標、実施結果。1行目は見出しです。"),
        validators=[FileRequired(message=_l("ファイルを選んでください。")),
                    FileAllowed(["xlsx", "csv"], message=_l(".xlsx のファイルを選んでください。"))],
    )


class ConfirmForm(FlaskForm):
    """A button; ``confirmed`` is "yes" only when sent from the confirmation page."""

    confirmed = HiddenField(default="")

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed.data == "yes"
