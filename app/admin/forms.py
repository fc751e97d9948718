"""The round form: catalogue, wards, title, opening and close on Tokyo's clock, reminder days."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.access import scope_wards
from app.forms import OneLine, SelectChoice, required
from app.i18n import localized_fiscal_year_label as fiscal_year_label
from app.models import Catalogue, GrantRole, MailState, Round
from app.services.governance.audit import ACTIONS, AuditFilter
from app.services.identity.auth import normalise_employee_id
from app.services.operations.schedule import STATE_LABELS
from app.services.rounds.rounds import (
    DEFAULT_REMINDER_DAYS,
    TITLE_MAX_LENGTH,
    format_reminder_days,
    parse_datetime,
    parse_reminder_days,
    usable_catalogues,
)
from app.wareki import TOKYO, tokyo
from app.wareki import fiscal_year_label as era_fiscal_year_label

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


def _moment(field: Any) -> None:
    try:
        parse_datetime(field.data or "")
    except ValueError as error:
        raise ValidationError(str(error)) from error


def catalogue_label(catalogue: Catalogue) -> str:
    """A catalogue in the round form's menu: its title and key, with the fiscal year in front
    only when the title does not already begin with it (「令和7年度 区役所サービス基準…」
    would otherwise read 「令和7年度 令和7年度 …」)."""
    title = str(_l("%(title)s（%(key)s）", title=catalogue.title, key=catalogue.key))
    if catalogue.title.startswith(era_fiscal_year_label(catalogue.fiscal_year)):
        return title
    return f"{fiscal_year_label(catalogue.fiscal_year)} {title}"


class RoundForm(FlaskForm):
    """Create or edit a round. Times are read as Tokyo time (``parse_datetime``)."""

    # The choices are the catalogues the admin may use (rounds.usable_catalogues); any other
    # key is refused by the service with a message naming it, not by WTForms.
    catalogue = SelectField(
        _l("基準（カタログ）"),
        validators=[InputRequired(message=_l("基準（カタログ）を選んでください。"))],
        validate_choice=False,
    )
    # The choices are the admin's own wards; any other name is refused by the service
    # (create_round / update_round) with a message naming the ward, not by WTForms.
    wards = SelectMultipleField(
        _l("対象の区"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
    title = StringField(
        _l("題名"),
        description=_l("空のままなら「令和N年度 区役所サービス基準 自己点検」になります。"),
        validators=[
            Optional(),
            Length(
                max=TITLE_MAX_LENGTH,
                message=_l("題名は %(max)d 文字までにしてください。", max=TITLE_MAX_LENGTH),
            ),
            OneLine(),
        ],
    )
    opens = StringField(
        _l("受付開始（東京時間）"),
        description=_l("例 2026-11-01 09:00。この時刻に全員へ「回答のお願い」が届きます。"),
        validators=[InputRequired(message=_l("受付開始の日時を入れてください。"))],
    )
    closes = StringField(
        _l("締め切り（東京時間）"),
        description=_l("例 2026-11-28 17:15。この時刻からは回答できません。"),
        validators=[InputRequired(message=_l("締め切りの日時を入れてください。"))],
    )
    reminder_days = StringField(
        _l("お知らせを送る日（締め切りの何日前か）"),
        default=format_reminder_days(DEFAULT_REMINDER_DAYS),
        description=_l(
            "カンマで区切ります（例 7,3,1）。まだ提出していない人にだけ届きます。"
            "空にすると送りません。"
        ),
    )
    confirm = BooleanField(_l("すぐにメールが送られることを確かめました"))
    confirm_year = BooleanField(_l("年度の違う基準で調査することを確かめました"))

    def validate_wards(self, field: Any) -> None:
        # Not InputRequired: it would mark every checkbox required.
        if not field.data:
            raise ValidationError(_l("対象の区を1つ以上選んでください。"))

    def validate_opens(self, field: Any) -> None:
        _moment(field)

    def validate_closes(self, field: Any) -> None:
        _moment(field)

    def validate_reminder_days(self, field: Any) -> None:
        try:
            parse_reminder_days(field.data or "")
        except ValueError as error:
            raise ValidationError(str(error)) from error

    def times(self) -> tuple[datetime, datetime]:
        opens, closes = required(self.opens.data), required(self.closes.data)
        return parse_datetime(opens), parse_datetime(closes)

    def cadence(self) -> tuple[int, ...]:
        return parse_reminder_days(self.reminder_days.data or "")


def round_form(round_: Round | None = None, *, ward_ids: set[int] | None = None) -> RoundForm:
    """The form with the catalogues and wards to choose from, filled from ``round_`` on GET;
    the wards are those of the admin's scope ``ward_ids`` (None: every ward), and the
    catalogues those it may use (``rounds.usable_catalogues``). A new round of an admin with
    one ward starts with that ward ticked."""
    form = RoundForm(obj=None)
    if round_ is not None and not form.is_submitted():
        form.catalogue.data = round_.catalogue.key
        form.wards.data = [w.name for w in round_.wards]
        form.title.data = round_.title
        form.opens.data = tokyo(round_.opens_at).strftime(LOCAL_FORMAT)
        form.closes.data = tokyo(round_.closes_at).strftime(LOCAL_FORMAT)
        form.reminder_days.data = round_.reminder_days
    catalogues = usable_catalogues(ward_ids)
    form.catalogue.choices = [SelectChoice(c.key, catalogue_label(c)) for c in catalogues]
    wards = scope_wards(ward_ids)
    form.wards.choices = [SelectChoice(w.name, w.name) for w in wards]
    if round_ is None and not form.is_submitted() and len(wards) == 1:
        form.wards.data = [wards[0].name]
    return form


class LedgerFilterForm(FlaskForm):
    """Which state of the ledger to list (GET, no CSRF token)."""

    class Meta:
        csrf = False

    state = SelectField(
        _l("状態"),
        choices=[SelectChoice("", _l("すべて"))]
        + [SelectChoice(s.value, label) for s, label in STATE_LABELS.items()],
        validators=[Optional()],
    )

    def chosen(self) -> MailState | None:
        return MailState(self.state.data) if self.state.data else None


# What the audit log page can filter on (the object types that actions name).
AUDIT_TARGET_TYPES: dict[str, Any] = {
    "person": _l("職員"),
    "round": _l("調査"),
    "catalogue": _l("基準（カタログ）"),
    "roster": _l("名簿"),
    "section": _l("課"),
    "year_plan": _l("年度の計画"),
    "working_team": _l("ワーキングチーム"),
}
# How the log names an object that is no longer on file and whose row kept no name: its kind and
# its id, in one message each, so that each language orders them its own way (「Round 3」).
AUDIT_TARGET_NAMES: dict[str, Any] = {
    "person": _l("職員 %(id)s"),
    "round": _l("調査 %(id)s"),
    "catalogue": _l("基準（カタログ） %(id)s"),
    "roster": _l("名簿 %(id)s"),
    "section": _l("課 %(id)s"),
    "year_plan": _l("年度の計画 %(id)s"),
    "working_team": _l("ワーキングチーム %(id)s"),
}


class AuditFilterForm(FlaskForm):
    """Filters of the audit log (GET, no CSRF token): person, action, object, dates (Tokyo)."""

    class Meta:
        csrf = False

    person = StringField(
        _l("職員番号"),
        description=_l("操作した人、または操作された人"),
        validators=[Optional(), Length(max=32)],
    )
    action = SelectField(_l("操作"), validators=[Optional()])
    target_type = SelectField(
        _l("対象の種類"),
        choices=[SelectChoice("", _l("すべて"))]
        + [SelectChoice(key, label) for key, label in AUDIT_TARGET_TYPES.items()],
        validators=[Optional()],
    )
    target_id = StringField(_l("対象の番号"), validators=[Optional(), Length(max=64)])
    since = DateField(_l("この日から"), validators=[Optional()])
    until = DateField(_l("この日まで"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action.choices = [SelectChoice("", _l("すべて"))] + [
            SelectChoice(key, label) for key, label in ACTIONS.items()
        ]

    def validate_until(self, field: Any) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("終わりの日は始めの日より後にしてください。"))

    def wanted(self) -> AuditFilter:
        """The filter for ``audit_query``: the dates as whole Tokyo days."""
        since = until = None
        if self.since.data:
            since = datetime.combine(self.since.data, time(0), TOKYO)
        if self.until.data:
            until = datetime.combine(self.until.data + timedelta(days=1), time(0), TOKYO)
        return AuditFilter(
            actor=normalise_employee_id(self.person.data or "") or None,
            action=self.action.data or None,
            target_type=self.target_type.data or None,
            target_id=(self.target_id.data or "").strip() or None,
            since=since,
            until=until,
        )

    def query_args(self) -> dict[str, str]:
        """The filters as URL arguments (for the pager and the CSV link)."""
        names = ("person", "action", "target_type", "target_id", "since", "until")
        values = {name: self[name].data for name in names}
        return {name: str(value) for name, value in values.items() if value}


class PeopleSearchForm(FlaskForm):
    """Search people by employee id, name or section (GET, no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("職員番号・氏名・所属で探す"), validators=[Optional(), Length(max=100)]
    )
    holders = BooleanField(_l("推進委員会・管理者の権限を持つ人だけ"))


class GrantForm(FlaskForm):
    """Grant or revoke a committee or admin role for a ward (empty: the city)."""

    role = SelectField(
        _l("権限"),
        choices=[
            SelectChoice(GrantRole.COMMITTEE.value, _l("推進委員会")),
            SelectChoice(GrantRole.ADMIN.value, _l("管理者")),
        ],
    )
    ward = SelectField(_l("区"), validate_choice=False)
    # Read by grants.parse_ends_on (its errors in plain Japanese), not by a DateField.
    ends_on = StringField(
        _l("終わりの日（任意）"),
        description=_l("この日まで使えます（東京時間）。空なら取り消すまで使えます。"),
    )
    operation = HiddenField(default="grant")

    def validate_operation(self, field: Any) -> None:
        if field.data not in ("grant", "revoke"):
            raise ValidationError(_l("操作が正しくありません。"))

    def ward_id(self) -> int | None:
        try:
            return int(self.ward.data) if self.ward.data else None
        except ValueError as error:
            raise ValidationError(_l("区が正しくありません。")) from error


def grant_form(ward_ids: set[int] | None) -> GrantForm:
    """The grant form offering the admin's wards (a city-wide admin also the whole city)."""
    form = GrantForm()
    choices = [SelectChoice(str(w.id), w.name) for w in scope_wards(ward_ids)]
    if ward_ids is None:
        choices.insert(0, SelectChoice("", _l("全市")))
    form.ward.choices = choices
    return form


class ConfirmActionForm(FlaskForm):
    """A button that changes something (CSRF only)."""


class ConfirmRemindForm(FlaskForm):
    """The confirmation of 今すぐ催促 (CSRF only)."""


class SendLinksForm(FlaskForm):
    """サインイン用リンクをまとめて送る: which send this is (the page's, so that a second press
    or a second admin sends nothing more), and, from the second send on, the confirmation."""

    send = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=1000)])
    confirm_again = BooleanField()  # its label, naming how many, is the page's


class RosterUploadForm(FlaskForm):
    """The year's roster file (CSV or xlsx) and its fiscal year."""

    fiscal_year = IntegerField(
        _l("年度（西暦、4月始まり）"),
        description=_l("例 2027（令和9年度）"),
        validators=[
            InputRequired(message=_l("年度を入れてください。")),
            NumberRange(min=2000, max=2100, message=_l("年度は 2000〜2100 で入れてください。")),
        ],
    )
    roster = FileField(
        _l("名簿のファイル（.csv または .xlsx）"),
        description=_l("CSV は UTF-8（BOM 付きも可）または Shift_JIS。1行目は見出しです。"),
        validators=[FileRequired(message=_l("ファイルを選んでください。"))],
    )


class RosterConfirmForm(FlaskForm):
    """The confirmation of a previewed roster: the digests the preview showed."""

    sha256 = HiddenField(validators=[InputRequired()])
    suffix = HiddenField(validators=[InputRequired()])
    fiscal_year = HiddenField(validators=[InputRequired()])
    summary_digest = HiddenField(validators=[InputRequired()])
    acknowledged = BooleanField(_l("確認しました（注意があっても、この内容で取り込みます）"))


class PublishedUploadForm(FlaskForm):
    """A ward's published compliance table of a past year: ward, fiscal year and the file.
    The ward's choices are the admin's own wards (set by the view)."""

    ward = SelectField(
        _l("区"), coerce=int, validators=[InputRequired(message=_l("区を選んでください。"))]
    )
    fiscal_year = IntegerField(
        _l("年度（西暦）"),
        description=_l("表の年度を西暦で（2024 は令和6年度）。"),
        validators=[
            InputRequired(message=_l("年度を数字で入れてください。")),
            NumberRange(min=2000, max=2100, message=_l("年度は 2000〜2100 の数にしてください。")),
        ],
    )
    table = FileField(
        _l("遵守率の表（.csv または .xlsx）"),
        description=_l(
            "Kijun が書き出す形の表: 「基準 No」「基準の内容」、"
            "続いて年度ごとの「職員」「所属長」の列。"
        ),
        validators=[
            FileRequired(message=_l("ファイルを選んでください。")),
            FileAllowed(["csv", "xlsx"], message=_l(".csv か .xlsx のファイルを選んでください。")),
        ],
    )


class CatalogueUploadForm(FlaskForm):
    """A catalogue file (YAML) of a year Kijun has no catalogue for (the published page)."""

    catalogue = FileField(
        _l("カタログのファイル（.yaml）"),
        description=_l("surveys/ のカタログと同じ形のファイル。flask catalogue load と同じように"
                       "確かめてから読み込みます。"),
        validators=[
            FileRequired(message=_l("ファイルを選んでください。")),
            FileAllowed(["yaml", "yml"], message=_l(".yaml のファイルを選んでください。")),
        ],
    )


class PublishedConfirmForm(FlaskForm):
    """The previewed file, carried back for the import itself (base64)."""

    ward = HiddenField()
    fiscal_year = HiddenField()
    filename = HiddenField()
    payload = HiddenField()
