"""Users for staff: find them by username or email, change their email, staff and active flags,
and reset a password. Usernames and password hashes are never shown or edited here.

Deactivating a user or resetting their password ends every session and API token of theirs
(`accounts.end_sessions`, as a password change does). Staff cannot take their own staff flag
away or deactivate themselves, so that nobody locks themselves out by mistake.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from flask_admin import Admin, expose
from flask_admin.contrib.sqla.filters import BooleanEqualFilter
from flask_admin.model.template import EndpointLinkRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect
from wtforms import BooleanField

from app import unit_of_work
from app.admin import admin_endpoint
from app.admin.access import AccessPages
from app.admin.base import StaffForm, StaffModelView
from app.blueprints.auth.forms import email_field, new_password_field, repeat_field
from app.extensions import db
from app.i18n import say
from app.models import User
from app.services import accounts, sessions
from app.services.errors import DomainError, InvalidInput


def _is_me(user: User | None) -> bool:
    return user is not None and current_user.is_authenticated and user.id == current_user.id


class UserForm(StaffForm):
    """What staff may change about a user: the email and the two flags."""

    email = email_field(_l("Email"))
    is_staff = BooleanField(_l("Staff"), description=_l("May open these staff pages."))
    active = BooleanField(
        _l("Account active"),
        description=_l("May sign in. Switching it off signs the user out everywhere."),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if not _is_me(self._obj):
            return valid
        if not self.is_staff.data:
            self.is_staff.errors = [_("You cannot take away your own staff flag.")]
            valid = False
        if not self.active.data:
            self.active.errors = [_("You cannot deactivate yourself.")]
            valid = False
        return valid


class PasswordResetForm(StaffForm):
    """A new password, twice, under the rules every password keeps."""

    new_password = new_password_field(_l("New password"))
    confirm = repeat_field(_l("Repeat the new password"), of="new_password")


class UserView(AccessPages, StaffModelView):
    """Users, newest first. They sign up themselves (or `flask create-admin`); none is deleted
    here, since their orders stay."""

    can_create = False
    can_delete = False
    form = UserForm
    details_template = "admin/users/details.html"
    column_list = ("username", "email", "is_staff", "active", "created_at", "last_login_at")
    column_details_list = (
        "id",
        "username",
        "email",
        "is_staff",
        "active",
        "created_at",
        "last_login_at",
    )
    column_labels = {
        "is_staff": _l("Staff"),
        "active": _l("Account active"),
        "created_at": _l("Signed up"),
        "last_login_at": _l("Last sign-in"),
    }
    column_searchable_list = ("username", "email")
    column_filters = (
        BooleanEqualFilter(User.is_staff, _l("Staff")),
        BooleanEqualFilter(User.active, _l("Account active")),
    )
    column_sortable_list = ("username", "email", "created_at", "last_login_at")
    column_default_sort = [("created_at", True), ("id", True)]
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-unlock", ".access_view", title=_l("Access")),
        EndpointLinkRowAction("fa fa-key", ".password_view", title=_l("Reset password")),
    ]

    def orders_url(self, user_id: int) -> str:
        from app.admin.orders import orders_url

        return orders_url(user=user_id)

    def coupon_records_url(self, user_id: int) -> str:
        from app.admin.coupons import records_url

        return records_url(user_id=user_id)

    def on_model_change(self, form: Any, model: User, is_created: bool) -> None:
        was_active = inspect(model).attrs.active.history.deleted
        if was_active and was_active[0] and not model.active:
            accounts.end_sessions(model)

    @expose("/password/", methods=("GET", "POST"))
    def password_view(self) -> Any:
        """Give the user a new password: every session and API token of theirs ends (staff
        resetting their own stay signed in here)."""
        user = _user_from_args()
        if user is None:
            flash(_("There is no such user."), "error")
            return redirect(self.get_url(".index_view"))
        form = PasswordResetForm()
        if form.validate_on_submit():

            def work() -> tuple[int, str]:
                accounts.reset_password(user, form.new_password.data)
                if _is_me(user):  # staff resetting their own password stay signed in
                    sessions.start_session(user)
                return user.id, user.username

            try:
                user_id, username = unit_of_work.run(work)
            except InvalidInput as exc:
                for name, message in exc.fields.items():
                    field = form["new_password"] if name not in form else form[name]
                    field.errors = [*field.errors, say(message)]
            except DomainError:
                flash(_("The password could not be changed; please try again."), "error")
            else:
                flash(
                    _(
                        "%(username)s has a new password; every session and API token of "
                        "theirs has ended.",
                        username=username,
                    ),
                    "success",
                )
                return redirect(self.get_url(".details_view", id=user_id))
        return self.render("admin/users/password.html", user=user, form=form)


def _user_from_args() -> User | None:
    ident = request.args.get("id", "")
    return db.session.get(User, int(ident)) if ident.isdigit() and len(ident) < 12 else None


def register(admin: Admin) -> None:
    admin.add_view(
        UserView(
            User,
            db,
            name=_l("Users"),
            category=_l("Users"),
            endpoint=admin_endpoint("users"),
            url="users",
        )
    )
