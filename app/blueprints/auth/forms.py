"""The account forms: register, log in, log out, change the password or the email address."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from app.i18n import say
from app.security import page_csrf_token
from app.services import accounts, captcha
from app.services.errors import DomainError

CAPTCHA_MISSING = _l("Please complete the bot check.")
CAPTCHA_REFUSED = _l("The bot check was not accepted or has expired; please solve it again.")


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _bounded(limit: int):
    """Keep at most `limit` + 1 characters: still too long to pass, but a megabyte typed in is
    not echoed back into the page."""

    def bound(value: object) -> object:
        return value[: limit + 1] if isinstance(value, str) else value

    return bound


def _username_rule(form: FlaskForm, field: StringField) -> None:
    if accounts.username_problem(field.data):
        raise ValidationError(_l("3–32 characters: letters, digits, _ and -."))


def _password_rule(form: FlaskForm, field: PasswordField) -> None:
    if not accounts.PASSWORD_MIN <= len(field.data or "") <= accounts.PASSWORD_MAX:
        raise ValidationError(_l("8–128 characters."))


def _email_rule(form: FlaskForm, field: EmailField) -> None:
    """Blank, or an address in its normalised form (as the API keeps it)."""
    if not field.data:
        field.data = ""
        return
    try:
        field.data = validate_email(field.data, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError(_l("Not a valid email address.")) from None
    if len(field.data) > accounts.EMAIL_MAX:
        raise ValidationError(_l("At most 254 characters."))


def _required(message: Any) -> InputRequired:
    return InputRequired(message=message)


def username_field(check_rules: bool) -> StringField:
    rules = [_username_rule] if check_rules else [Length(max=accounts.USERNAME_MAX)]
    return StringField(
        _l("Username"),
        filters=[_stripped, _bounded(accounts.USERNAME_MAX)],
        validators=[_required(_l("Please enter your username.")), *rules],
        render_kw={"autocomplete": "username", "maxlength": accounts.USERNAME_MAX},
    )


def new_password_field(label: Any) -> PasswordField:
    return PasswordField(
        label,
        validators=[_required(_l("Please choose a password.")), _password_rule],
        render_kw={"autocomplete": "new-password", "maxlength": accounts.PASSWORD_MAX},
    )


def current_password_field(label: Any) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            _required(_l("Please enter your password.")),
            Length(max=accounts.PASSWORD_MAX, message=_l("8–128 characters.")),
        ],
        render_kw={"autocomplete": "current-password", "maxlength": accounts.PASSWORD_MAX},
    )


def repeat_field(label: Any, of: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            _required(_l("Please type the password again.")),
            EqualTo(of, message=_l("The passwords do not match.")),
        ],
        render_kw={"autocomplete": "new-password", "maxlength": accounts.PASSWORD_MAX},
    )


def email_field(label: Any) -> EmailField:
    return EmailField(
        label,
        filters=[_stripped, _bounded(accounts.EMAIL_MAX)],
        validators=[_email_rule],
        render_kw={"autocomplete": "email", "maxlength": accounts.EMAIL_MAX},
    )


class AccountForm(FlaskForm):
    """A form whose refusals by a service are shown next to its fields, or above them."""

    def show_refusal(self, exc: DomainError, *, field: str | None = None) -> None:
        """Put a service's refusal next to the fields it names, else next to `field`, else
        above the form."""
        named = {name: message for name, message in exc.fields.items() if name in self._fields}
        if not named:
            if field is None:
                self.form_errors.append(say(exc.message))
                return
            named = {field: exc.message}
        for name, message in named.items():
            self._fields[name].errors = [*self._fields[name].errors, say(message)]


class VisitorCSRF(_FlaskFormCSRF):
    """The form's CSRF token as the catalog pages make it (security.page_csrf_token): a visitor
    who only looks at the sign-in pages is given no server-side session (anyone could fill
    Redis with GETs otherwise); the token is checked as Flask-WTF's when the form is posted."""

    def generate_csrf_token(self, csrf_token_field) -> str:
        return page_csrf_token()


class BotCheckedForm(AccountForm):
    """A form with the ALTCHA widget's payload, in the field the widget names `altcha`."""

    class Meta:
        csrf_class = VisitorCSRF

    altcha = HiddenField(validators=[Length(max=captcha.PAYLOAD_MAX_LENGTH)])

    def refuse_bot_check(self) -> None:
        self.form_errors.append(CAPTCHA_REFUSED if self.altcha.data else CAPTCHA_MISSING)


class RegisterForm(BotCheckedForm):
    username = username_field(check_rules=True)
    email = email_field(_l("Email (optional)"))
    password = new_password_field(_l("Password"))
    confirm = repeat_field(_l("Repeat the password"), of="password")

    def validate_password(self, field: PasswordField) -> None:
        if (
            isinstance(self.username.data, str)
            and (field.data or "").lower() == self.username.data.lower()
        ):
            raise ValidationError(_l("The password must not be the username."))


class LoginForm(BotCheckedForm):
    username = username_field(check_rules=False)
    password = current_password_field(_l("Password"))


class LogoutForm(FlaskForm):
    """Only the CSRF token: logging out is a POST that another site cannot make for you."""


class PasswordForm(AccountForm):
    current_password = current_password_field(_l("Current password"))
    new_password = new_password_field(_l("New password"))
    confirm = repeat_field(_l("Repeat the new password"), of="new_password")


class EmailForm(AccountForm):
    email = email_field(_l("Email"))
    current_password = current_password_field(_l("Current password"))
