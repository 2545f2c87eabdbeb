"""A student's access, for staff: what they may study and why, and staff grants, given (or
extended: days given run after the access the student already has), listed and revoked, each
with a reason and the staff member's name.

Grants go through `enrollment.grant_access` / `enrollment.revoke_grant`, so they count by the
one entitlement rule (app/services/enrollment.py) as paid order lines do; the grant row is the
audit, and a revoked grant stays listed with who took it back, when and why.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request
from flask_admin import expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, with_polymorphic
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app import unit_of_work
from app.admin.base import LocalDateTimeField, StaffForm
from app.extensions import db
from app.i18n import period_text, say
from app.models import AccessGrant, Course, DegreeCourse, Enrollment, Product, User
from app.models.types import utcnow
from app.services import enrollment
from app.services.errors import DomainError, InvalidInput

REASON = [DataRequired(), Length(max=enrollment.REASON_MAX)]


class GrantForm(StaffForm):
    product = SelectField(_l("Course or degree course"), coerce=int, validate_choice=False)
    days = IntegerField(
        _l("Days"),
        description=_l(
            "0 = for ever. Added after the access the student already has. "
            "Or leave empty and give an end below."
        ),
        validators=[Optional(), NumberRange(min=0, max=36_500)],
    )
    until = LocalDateTimeField(_l("Until"), validators=[Optional()])
    reason = TextAreaField(
        _l("Reason (the student reads it)"), validators=REASON, render_kw={"rows": 2}
    )


class RevokeForm(StaffForm):
    reason = TextAreaField(_l("Why it is taken back"), validators=REASON, render_kw={"rows": 1})


def product_choices() -> list[tuple[int, str]]:
    kinds = with_polymorphic(Product, [Course, DegreeCourse])
    rows = db.session.scalars(select(kinds).order_by(kinds.item_type, kinds.name, kinds.id))
    choices = []
    for product in rows:
        kind = _("Degree course") if isinstance(product, DegreeCourse) else _("Course")
        choices.append((product.id, f"{product.name} ({kind} #{product.id})"))
    return choices


def enrollments_of(user: User) -> list[Enrollment]:
    stmt = (
        select(Enrollment)
        .where(Enrollment.user_id == user.id)
        .options(joinedload(Enrollment.product))
        .order_by(Enrollment.updated_at.desc(), Enrollment.id.desc())
    )
    return list(db.session.scalars(stmt))


def grants_of(user: User) -> list[AccessGrant]:
    stmt = (
        select(AccessGrant)
        .where(AccessGrant.user_id == user.id)
        .options(
            joinedload(AccessGrant.product),
            joinedload(AccessGrant.granted_by),
            joinedload(AccessGrant.revoked_by),
        )
        .order_by(AccessGrant.created_at.desc(), AccessGrant.id.desc())
    )
    return list(db.session.scalars(stmt))


def grant_period(grant: AccessGrant) -> str:
    """What a grant gives: `30 days`, `Forever`, or `until 2026-12-31 00:00 UTC+8`."""
    from app.templating import local_time

    if grant.valid_until is not None:
        return _("until %(end)s", end=local_time(grant.valid_until))
    return period_text(grant.valid_period or 0)


def _fields_onto(form: StaffForm, exc: InvalidInput) -> None:
    for name, message in exc.fields.items():
        field = form[name] if name in form else form["reason"]
        field.errors = [*field.errors, say(message)]


class AccessPages:
    """Mixed into the users' view: `/admin/users/access/?id=` and its two POSTs."""

    @expose("/access/", methods=("GET", "POST"))
    def access_view(self) -> Any:
        user = _user_from_args()
        if user is None:
            flash(_("There is no such user."), "error")
            return redirect(self.get_url(".index_view"))
        form = GrantForm(prefix="grant")
        form.product.choices = product_choices()
        if form.validate_on_submit():
            user_id, username = user.id, user.username  # nothing is read after the commit
            try:
                unit_of_work.run(lambda: _grant(user_id, form))
            except InvalidInput as exc:
                _fields_onto(form, exc)
            except DomainError as exc:
                flash(say(exc.message), "error")
            else:
                flash(_("Access given to %(username)s.", username=username), "success")
                return redirect(self.get_url(".access_view", id=user_id))
        return self.render(
            "admin/users/access.html",
            user=user,
            form=form,
            revoke_form=RevokeForm(prefix="revoke"),
            enrollments=enrollments_of(user),
            grants=grants_of(user),
            grant_period=grant_period,
            status_labels=ENROLLMENT_STATUS,
            now=utcnow(),
        )

    @expose("/access/revoke/<int:grant_id>", methods=("POST",))
    def revoke_view(self, grant_id: int) -> Any:
        grant = db.session.get(AccessGrant, grant_id)
        if grant is None:
            flash(_("There is no such grant."), "error")
            return redirect(self.get_url(".index_view"))
        user_id = grant.user_id
        form = RevokeForm(prefix="revoke")
        if not form.validate_on_submit():
            flash(_("Say why the access is taken back (at most 500 characters)."), "error")
        else:
            try:
                unit_of_work.run(lambda: _revoke(grant_id, form.reason.data))
            except DomainError as exc:
                flash(say(exc.message), "error")
            else:
                flash(_("The grant was revoked."), "success")
        return redirect(self.get_url(".access_view", id=user_id))


ENROLLMENT_STATUS = {
    "active": _l("Active"),
    "expired": _l("Expired"),
    "refunded": _l("Refunded"),
}


def _grant(user_id: int, form: GrantForm) -> None:
    enrollment.grant_access(
        user_id,
        form.product.data,
        granted_by_id=current_user.id,
        reason=form.reason.data,
        now=utcnow(),
        days=form.days.data,
        until=form.until.data,
    )


def _revoke(grant_id: int, reason: str) -> None:
    enrollment.revoke_grant(grant_id, revoked_by_id=current_user.id, reason=reason, now=utcnow())


def _user_from_args() -> User | None:
    ident = request.args.get("id", "")
    return db.session.get(User, int(ident)) if ident.isdigit() and len(ident) < 12 else None
