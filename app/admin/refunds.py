"""Refunds for staff: the students' requests (approve through the gateway, or reject with a
reason the student reads) and the payments an order could not use (orders flagged
`needs_refund`), refunded from the same page.

Each button is one POST, one service call (app/services/refunds.py), one unit of work. A
refusal (someone else answered first, the gateway said no) rolls back and is shown as it is; a
gateway failure is then recorded on the order in a second unit of work, so the page shows it on
the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import Admin, expose
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from app import unit_of_work
from app.admin.base import StaffView
from app.admin.orders import METHOD_LABELS, STATUS_LABELS
from app.i18n import say
from app.models.types import utcnow
from app.services import refunds
from app.services.errors import DomainError


class ActionForm(FlaskForm):
    """A button: only its CSRF token."""


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (the student reads it)"),
        validators=[DataRequired(), Length(max=refunds.REJECTION_MAX)],
    )


class RefundsView(StaffView):
    @expose("/")
    def index(self) -> str:
        return self.render(
            "admin/refunds.html",
            requests=refunds.refund_requests(),
            flagged=refunds.flagged_orders(),
            action_form=ActionForm(),
            reject_form=RejectForm(),
            method_labels=METHOD_LABELS,
            status_labels=STATUS_LABELS,
        )

    @expose("/<order_no>/approve", methods=("POST",))
    def approve(self, order_no: str) -> Any:
        return self._act(
            lambda: refunds.approve_refund(order_no, current_user.id, utcnow()),
            _("Order %(order_no)s was refunded.", order_no=order_no),
        )

    @expose("/<order_no>/reject", methods=("POST",))
    def reject(self, order_no: str) -> Any:
        form = RejectForm()
        if not form.validate_on_submit():
            flash(
                _(
                    "Say why the refund is refused (at most %(num)d characters).",
                    num=refunds.REJECTION_MAX,
                ),
                "danger",
            )
            return self._back()
        return self._act(
            lambda: refunds.reject_refund(order_no, current_user.id, form.reason.data, utcnow()),
            _("The refund of order %(order_no)s was refused.", order_no=order_no),
        )

    @expose("/<order_no>/refund-payments", methods=("POST",))
    def refund_payments(self, order_no: str) -> Any:
        return self._act(
            lambda: refunds.refund_flagged_payment(order_no, current_user.id, utcnow()),
            _("The stray payments of order %(order_no)s were refunded.", order_no=order_no),
        )

    def _act(self, change: Callable[[], Any], done: str) -> Any:
        if not ActionForm().validate_on_submit():  # the CSRF token
            flash(_("The form has expired; please try again."), "danger")
            return self._back()
        try:
            unit_of_work.run(change)
        except refunds.RefundFailed as exc:
            failure = exc.failure
            if failure is not None:  # the gateway's words outlive the rolled-back claim
                unit_of_work.run(lambda: refunds.record_failure(failure))
            flash(say(exc.message), "danger")
        except DomainError as exc:
            flash(say(exc.message), "danger")
        else:
            flash(done, "success")
        return self._back()

    def _back(self) -> Any:
        return redirect(url_for(".index", _anchor=request.form.get("anchor") or None))


def register(admin: Admin) -> None:
    admin.add_view(
        RefundsView(
            name=_l("Refunds"),
            category=_l("Orders"),
            endpoint="admin_refunds",
            url="refunds",
        )
    )
