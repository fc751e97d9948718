"""Forms of the sign-in pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.services.identity.auth import EMPLOYEE_ID_LENGTH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    """職員番号 and password."""

    employee_id = StringField(
        _l("職員番号"),
        validators=[
            DataRequired(message=_l("職員番号を入力してください。")),
            Length(max=EMPLOYEE_ID_LENGTH, message=_l("職員番号が長すぎます。")),
        ],
        render_kw={
            "autocomplete": "username",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )
    password = PasswordField(
        _l("パスワード"),
        validators=[DataRequired(message=_l("パスワードを入力してください。"))],
        render_kw={"autocomplete": "current-password"},
    )


class SetPasswordForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField(
        _l("新しいパスワード"),
        description=_l(
            "%(n)d文字以上。ほかのサービスと同じパスワードは避けてください。",
            n=MIN_PASSWORD_LENGTH,
        ),
        validators=[
            DataRequired(message=_l("新しいパスワードを入力してください。")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("パスワードは%(n)d文字以上にしてください。", n=MIN_PASSWORD_LENGTH),
            ),
            Length(
                max=MAX_PASSWORD_LENGTH,
                message=_l("パスワードは%(n)d文字以内にしてください。", n=MAX_PASSWORD_LENGTH),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("新しいパスワード（確認）"),
        validators=[
            DataRequired(message=_l("確認のため、もう一度入力してください。")),
            EqualTo("password", message=_l("2つのパスワードが一致しません。")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
