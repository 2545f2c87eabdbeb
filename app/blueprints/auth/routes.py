"""Register, log in, log out, the account page, and the challenge the bot-check widget fetches."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from app import unit_of_work
from app.blueprints.auth import bp
from app.blueprints.auth.forms import (
    EmailForm,
    LoginForm,
    LogoutForm,
    PasswordForm,
    RegisterForm,
)
from app.security import limit_captcha, limit_login, limit_register
from app.services import accounts, captcha, sessions
from app.services.errors import CaptchaInvalid, Conflict, InvalidInput, Unauthorized
from app.urls import safe_next

REFUSED = 400  # the status of a form shown again with its errors


def _next_url() -> str | None:
    """The `next` argument when it is a path on this site, else None."""
    target = request.args.get("next")
    return target if target and safe_next(target, default="") == target else None


def _after_login() -> str:
    return _next_url() or url_for("courses.list_courses")


def _user():
    return current_user._get_current_object()


@bp.route("/register", methods=["GET", "POST"])
@limit_register
def register():
    if current_user.is_authenticated:
        return redirect(_after_login())
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            captcha.verify("register", form.altcha.data)
            unit_of_work.run(
                lambda: sessions.start_session(
                    accounts.create_user(
                        form.username.data, form.password.data, email=form.email.data
                    )
                )
            )
        except CaptchaInvalid:
            form.refuse_bot_check()
        except (InvalidInput, Conflict) as exc:
            form.show_refusal(exc, field="username")
        except IntegrityError:
            # Another request took the same username between the check and the insert.
            taken = Conflict(accounts.USERNAME_TAKEN, slug="username_taken")
            form.show_refusal(taken, field="username")
        else:
            flash(
                _(
                    "Welcome to Luffy City, %(name)s! Your account is ready.",
                    name=form.username.data,
                ),
                "success",
            )
            return redirect(_after_login())
    status = REFUSED if form.errors else 200
    return render_template("auth/register.html", form=form, next_url=_next_url()), status


@bp.route("/login", methods=["GET", "POST"])
@limit_login
def login():
    if current_user.is_authenticated:
        return redirect(_after_login())
    form = LoginForm()
    if form.validate_on_submit():
        try:
            captcha.verify("login", form.altcha.data)
            unit_of_work.run(lambda: sessions.log_in(form.username.data, form.password.data))
        except CaptchaInvalid:
            form.refuse_bot_check()
        except Unauthorized as exc:
            form.show_refusal(exc)
        else:
            return redirect(_after_login())
    status = REFUSED if form.errors else 200
    return render_template("auth/login.html", form=form, next_url=_next_url()), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "POST":  # CSRFProtect has checked the token before this view
        sessions.end_session()
        return redirect(url_for("main.index"))
    if not current_user.is_authenticated:
        return redirect(url_for("main.index"))
    return render_template("auth/logout.html", form=LogoutForm())


def _account_page(password_form: PasswordForm, email_form: EmailForm, status: int = 200):
    return render_template(
        "auth/account.html", password_form=password_form, email_form=email_form
    ), status


@bp.get("/account")
@login_required
def account():
    return _account_page(
        PasswordForm(prefix="password"), EmailForm(prefix="email", email=current_user.email)
    )


@bp.post("/account/password")
@login_required
def change_password():
    form = PasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            unit_of_work.run(
                lambda: sessions.change_password(
                    _user(), form.current_password.data, form.new_password.data
                )
            )
        except InvalidInput as exc:
            form.show_refusal(exc, field="new_password")
        else:
            flash(_("Your password was changed, and you were signed out everywhere else."))
            return redirect(url_for("auth.account"))
    return _account_page(form, EmailForm(prefix="email", email=current_user.email), REFUSED)


@bp.post("/account/email")
@login_required
def change_email():
    form = EmailForm(prefix="email")
    if form.validate_on_submit():
        try:
            unit_of_work.run(
                lambda: accounts.change_email(_user(), form.current_password.data, form.email.data)
            )
        except InvalidInput as exc:
            form.show_refusal(exc, field="email")
        else:
            flash(_("Your email address was saved."))
            return redirect(url_for("auth.account"))
    return _account_page(PasswordForm(prefix="password"), form, REFUSED)


@bp.get("/captcha/challenge")
@limit_captcha
def captcha_challenge():
    """The raw ALTCHA challenge the widget on the login and register pages fetches."""
    try:
        challenge = captcha.new_challenge(request.args.get("action", ""))
    except InvalidInput as exc:
        response = jsonify(error=exc.slug, fields=exc.fields)
        response.status_code = 400
    else:
        response = jsonify(challenge)
    response.headers["Cache-Control"] = "no-store"
    return response
