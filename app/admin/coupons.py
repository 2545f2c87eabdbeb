"""Coupons for staff: the three kinds with their windows and quantity, issuing one to chosen
users (or every student) within its quantity, and the records students hold.

What a coupon must be is stated once, by `coupon_rules.coupon_problems` in the domain; the form
here only puts each problem next to its field. Issuing goes through
`coupon_issuing.issue_coupon`, the same code a student's claim goes through.
"""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, request, url_for
from flask_admin import Admin, expose
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter, FilterEqual
from flask_admin.model.template import EndpointLinkRowAction, LinkRowAction
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import select
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from app import unit_of_work
from app.admin import admin_endpoint
from app.admin.base import (
    IdEqualFilter,
    ReadOnlyModelView,
    StaffForm,
    StaffModelView,
    user_link,
)
from app.extensions import db
from app.i18n import say
from app.models import Coupon, CouponKind, CouponRecord, RecordStatus
from app.models.types import utcnow
from app.money import money_label
from app.services import coupon_issuing, coupon_rules, coupons
from app.services.errors import Conflict, DomainError
from app.templating import local_time

KIND_CHOICES = [
    (CouponKind.MONEY_OFF.value, _l("Money off (立减)")),
    (CouponKind.THRESHOLD.value, _l("Threshold (满减)")),
    (CouponKind.PERCENT.value, _l("Percent (折扣)")),
]
KIND_LABELS = dict(KIND_CHOICES)
STATUS_LABELS = {
    RecordStatus.UNUSED.value: _l("Unused"),
    RecordStatus.RESERVED.value: _l("Reserved"),
    RecordStatus.USED.value: _l("Used"),
    RecordStatus.EXPIRED.value: _l("Expired"),
}

RULED_FIELDS = (
    "kind",
    "value",
    "off_percent",
    "minimum_consume",
    "quantity",
    "claim_start",
    "claim_end",
    "valid_from",
    "valid_until",
    "valid_days",
)
MAX_USERNAMES = 2000
USERNAMES_MAX_CHARS = MAX_USERNAMES * 34  # a name and its separator each
NAMES_SHOWN = 20


def _zero_when_empty(value: Any) -> Any:
    return coupon_rules.ZERO if value is None else value


class CouponForm(StaffForm):
    """The coupon's form: after each field's own checks, the domain's rules for the whole
    coupon, each problem shown next to its field (a field already refused keeps its message)."""

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if not all(name in self for name in RULED_FIELDS):
            return valid  # the list's delete and action forms share this base
        values = {name: self[name].data for name in RULED_FIELDS}
        claimed = getattr(self._obj, "claimed", 0) or 0
        problems = coupon_rules.coupon_problems(**values, claimed=claimed)
        for name, message in problems.items():
            if not self[name].errors:
                self[name].errors = [say(message)]
        return valid and not problems


def _terms(coupon: Coupon) -> str:
    """What the coupon does, in a few words: `¥10.00 off`, `¥20.00 off from ¥100.00`, `pay 80%`."""
    minimum = coupon.minimum_consume or coupon_rules.ZERO
    if coupon.kind == CouponKind.PERCENT:
        terms = _("pay %(percent)s%%", percent=coupon.off_percent)
    else:
        terms = _("%(value)s off", value=money_label(coupon.value or coupon_rules.ZERO))
    if minimum > 0:
        terms = _("%(terms)s from %(minimum)s", terms=terms, minimum=money_label(minimum))
    return terms


def _kind_label(view: Any, context: Any, model: Coupon, name: str) -> str:
    return str(KIND_LABELS.get(model.kind, model.kind))


def _product_or_site_wide(view: Any, context: Any, model: Coupon, name: str) -> str:
    return str(model.product) if model.product is not None else _("Site-wide")


def _quantity(view: Any, context: Any, model: Coupon, name: str) -> str:
    return _("Unlimited") if model.quantity is None else str(model.quantity)


def _use_window(view: Any, context: Any, model: Coupon, name: str) -> str:
    if model.valid_days:
        return ngettext(
            "%(num)d day after claiming", "%(num)d days after claiming", model.valid_days
        )
    start = local_time(model.valid_from) if model.valid_from else _("claiming")
    end = local_time(model.valid_until) if model.valid_until else _("for ever")
    return _("%(start)s to %(end)s", start=start, end=end)


def records_url(coupon_id: int | None = None, user_id: int | None = None) -> str:
    """The coupon records page, showing only this coupon's (or this student's) records."""
    args = {}
    if coupon_id is not None:
        args[f"flt0_{CouponRecordView.column_filters.index(COUPON_FILTER)}"] = coupon_id
    if user_id is not None:
        args[f"flt1_{CouponRecordView.column_filters.index(RECORD_USER_FILTER)}"] = user_id
    return url_for(admin_endpoint("coupon-records") + ".index_view", **args)


class CouponView(StaffModelView):
    """Coupons of the three kinds. A coupon students hold records of is switched off (`active`),
    never deleted."""

    form_base_class = CouponForm
    details_template = "admin/coupons/details.html"
    column_list = (
        "id",
        "name",
        "kind",
        "terms",
        "product",
        "quantity",
        "claimed",
        "claim_start",
        "claim_end",
        "active",
    )
    column_details_list = (
        "id",
        "name",
        "brief",
        "kind",
        "terms",
        "product",
        "quantity",
        "claimed",
        "claim_start",
        "claim_end",
        "use_window",
        "active",
        "created_at",
    )
    column_labels = {
        "terms": _l("Terms"),
        "product": _l("For"),
        "claim_start": _l("Claim from"),
        "claim_end": _l("Claim until"),
        "use_window": _l("Use window"),
        "created_at": _l("Created"),
        "active": _l("Switched on"),
    }
    column_formatters = {
        "kind": _kind_label,
        "terms": lambda v, c, m, n: _terms(m),
        "product": _product_or_site_wide,
        "quantity": _quantity,
        "use_window": _use_window,
    }
    column_searchable_list = ("name",)
    column_filters = (
        FilterEqual(Coupon.kind, _l("Kind"), options=KIND_CHOICES),
        BooleanEqualFilter(Coupon.active, _l("Switched on")),
    )
    column_sortable_list = ("id", "name", "kind", "quantity", "claimed", "claim_start", "claim_end")
    column_default_sort = ("id", True)
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-gift", ".issue_view", title=_l("Issue to users")),
        LinkRowAction(
            "fa fa-list", lambda action, row_id, row: records_url(row.id), title=_l("Records")
        ),
    ]
    form_columns = (
        "name",
        "brief",
        "kind",
        "value",
        "off_percent",
        "minimum_consume",
        "product",
        "quantity",
        "claim_start",
        "claim_end",
        "valid_from",
        "valid_until",
        "valid_days",
        "active",
    )
    form_choices = {"kind": KIND_CHOICES}
    form_args = {
        "name": {"validators": [DataRequired(), Length(max=64)]},
        "brief": {"validators": [Length(max=2000)]},
        "value": {
            "label": _l("Amount off (¥)"),
            "description": _l("Money off and threshold coupons."),
        },
        "off_percent": {
            "label": _l("Percent paid"),
            "description": _l(
                "Percent coupons: 80 means the student pays 80 per cent of the price."
            ),
        },
        "minimum_consume": {
            "label": _l("Minimum spend (¥)"),
            "description": _l("Threshold and percent coupons; 0 = none."),
            "filters": [_zero_when_empty],
        },
        "product": {
            "label": _l("Course or degree course"),
            "description": _l("Empty: a site-wide coupon."),
            "blank_text": _l("Site-wide"),
        },
        "quantity": {"description": _l("Empty: unlimited.")},
        "claim_start": {"label": _l("Claim from")},
        "claim_end": {"label": _l("Claim until")},
        "valid_from": {
            "label": _l("Usable from"),
            "description": _l("Fixed use dates, shop time; empty: from claiming."),
        },
        "valid_until": {
            "label": _l("Usable until"),
            "description": _l("Fixed use dates, shop time; empty: no end."),
        },
        "valid_days": {
            "label": _l("Days after claiming"),
            "description": _l("Instead of fixed use dates."),
        },
        "active": {
            "label": _l("Switched on"),
            "description": _l("Off: students cannot claim it and staff cannot issue it."),
        },
    }

    def edit_form(self, obj: Coupon | None = None) -> Any:
        form = super().edit_form(obj)
        if obj is not None:  # the least the quantity may be
            form.quantity.description = _(
                "Empty: unlimited. Already claimed: %(claimed)s.", claimed=obj.claimed
            )
        return form

    def on_model_delete(self, model: Coupon) -> None:
        if db.session.scalar(select(CouponRecord.id).where(CouponRecord.coupon_id == model.id)):
            raise ValidationError(
                _("Students hold this coupon: switch it off instead of deleting it.")
            )

    @expose("/issue/", methods=("GET", "POST"))
    def issue_view(self) -> Any:
        """Issue the coupon to the users named, or to every active student, within its
        quantity; a summary of what happened to whom afterwards."""
        coupon = _coupon_from_args()
        if coupon is None:
            flash(_("There is no such coupon."), "error")
            return redirect(self.get_url(".index_view"))
        form = IssueForm()
        if form.validate_on_submit():
            usernames = None if form.recipients.data == EVERY_STUDENT else form.names()
            coupon_id = coupon.id
            try:
                result = unit_of_work.run(
                    lambda: coupon_issuing.issue_coupon(coupon_id, usernames, utcnow())
                )
            except DomainError as exc:
                flash(_issue_refusal(exc), "error")
            else:
                flash(issue_summary(result), "success" if result.issued else "warning")
                return redirect(self.get_url(".details_view", id=coupon_id))
        return self.render(
            "admin/coupons/issue.html",
            coupon=coupon,
            form=form,
            terms=_terms(coupon),
            remaining=coupons.remaining(coupon),
            records_url=records_url(coupon.id),
        )

    def records_url(self, coupon_id: int) -> str:
        return records_url(coupon_id)


def _coupon_from_args() -> Coupon | None:
    ident = request.args.get("id", "")
    return db.session.get(Coupon, int(ident)) if ident.isdigit() and len(ident) < 12 else None


def _issue_refusal(exc: DomainError) -> str:
    if exc.message == coupon_issuing.SWITCHED_OFF:
        return _("The coupon is switched off: switch it on first.")
    if exc.message == coupon_issuing.USE_WINDOW_OVER:
        return _("The coupon's use window is over: nobody could use it any more.")
    if isinstance(exc, Conflict) and exc.slug == "conflict":
        return _("Many people are doing the same thing right now; please try again.")
    return _("The coupon could not be issued; please try again.")


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += " " + _("and %(count)s more", count=len(names) - NAMES_SHOWN)
    return shown


def issue_summary(result: coupon_issuing.IssueResult) -> str:
    """What staff read after issuing: how many got it, and who did not, and why."""
    issued = len(result.issued)
    parts = [ngettext("Issued to %(num)d student.", "Issued to %(num)d students.", issued)]
    if result.already_held:
        held = len(result.already_held)
        parts.append(ngettext("%(num)d already held it.", "%(num)d already held it.", held))
    if result.sold_out:
        parts.append(
            _(
                "Not issued, none left: %(names)s.",
                names=_names(result.sold_out),
            )
        )
    if result.unknown:
        parts.append(_("No such user: %(names)s.", names=_names(result.unknown)))
    if result.inactive:
        inactive = _names(result.inactive)
        parts.append(_("Not issued, account switched off: %(names)s.", names=inactive))
    return " ".join(parts)


LISTED = "listed"
EVERY_STUDENT = "students"
USERNAME_SEPARATORS = re.compile(r"[\s,，;；]+")


class IssueForm(StaffForm):
    recipients = RadioField(
        _l("Issue to"),
        choices=[(LISTED, _l("These users")), (EVERY_STUDENT, _l("Every active student"))],
        default=LISTED,
    )
    usernames = TextAreaField(
        _l("Usernames"),
        description=_l("One per line, or separated by commas."),
        validators=[
            Length(
                max=USERNAMES_MAX_CHARS,
                message=_l("At most %(most)s names at a time.", most=MAX_USERNAMES),
            )
        ],
        render_kw={"rows": 8},
    )

    def names(self) -> list[str]:
        return [n for n in USERNAME_SEPARATORS.split(self.usernames.data or "") if n]

    def validate_usernames(self, field: TextAreaField) -> None:
        if self.recipients.data != LISTED:
            return
        names = self.names()
        if not names:
            raise ValidationError(_l("Name at least one user, or choose every active student."))
        if len(names) > MAX_USERNAMES:
            raise ValidationError(_l("At most %(most)s names at a time.", most=MAX_USERNAMES))


# --- records --------------------------------------------------------------------------------------


class RecordStatusFilter(BaseSQLAFilter):
    """A record's status as a student sees it now: an unused record outside its use window is
    `expired` (never stored), with the very rule the coupon centre uses."""

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(coupons.record_status_is(value, utcnow()))

    def validate(self, value: Any) -> bool:
        return value in coupons.STATUSES

    def operation(self) -> Any:
        return _l("is")


def _coupon_options() -> list[tuple[str, str]]:
    rows = db.session.execute(select(Coupon.id, Coupon.name).order_by(Coupon.id.desc()))
    return [(str(ident), f"{name} (#{ident})") for ident, name in rows]


class CouponEqualFilter(FilterEqual):
    """One coupon's records. Its choices are read on each page (`CouponRecordView`), not once
    when the app starts as Flask-Admin would, so that a new coupon can be picked at once."""

    def validate(self, value: Any) -> bool:
        return isinstance(value, str) and value.isdigit() and len(value) < 12

    def clean(self, value: Any) -> int:
        return int(value)


COUPON_FILTER = CouponEqualFilter(CouponRecord.coupon_id, _l("Coupon"))
RECORD_USER_FILTER = IdEqualFilter(CouponRecord.user_id, _l("Student ID"))
STATUS_FILTER = RecordStatusFilter(
    CouponRecord.status, _l("Status"), options=list(STATUS_LABELS.items())
)


def _record_status(view: Any, context: Any, model: CouponRecord, name: str) -> str:
    status = model.status_at(utcnow())
    return str(STATUS_LABELS.get(status, status))


def _record_coupon(view: Any, context: Any, model: CouponRecord, name: str) -> Markup:
    url = url_for(admin_endpoint("coupons") + ".details_view", id=model.coupon_id)
    return Markup('<a href="{}">{}</a>').format(url, model.coupon.name)


def _record_order(view: Any, context: Any, model: CouponRecord, name: str) -> Markup | str:
    if model.order is None:
        return ""
    url = url_for(admin_endpoint("orders") + ".details_view", id=model.order_id)
    return Markup('<a href="{}">{}</a>').format(url, model.order.order_no)


class CouponRecordView(ReadOnlyModelView):
    """Who holds which coupon, its status as of now, and the order that used it."""

    column_list = (
        "code",
        "coupon",
        "user",
        "status",
        "claimed_at",
        "valid_from",
        "valid_until",
        "used_at",
        "order",
    )
    column_details_list = column_list
    column_labels = {
        "user": _l("Student"),
        "claimed_at": _l("Claimed"),
        "valid_from": _l("Usable from"),
        "valid_until": _l("Usable until"),
        "used_at": _l("Used"),
    }
    column_formatters = {
        "status": _record_status,
        "coupon": _record_coupon,
        "order": _record_order,
        "user": user_link,
    }
    column_searchable_list = ("user.username", "code")
    column_filters = [COUPON_FILTER, STATUS_FILTER, RECORD_USER_FILTER]
    column_sortable_list = (
        "code",
        "claimed_at",
        "used_at",
        ("coupon", "coupon.name"),
        ("user", "user.username"),
    )
    column_default_sort = ("claimed_at", True)

    def _get_filter_groups(self) -> Any:
        groups = super()._get_filter_groups()  # copies, made for this page
        for items in (groups or {}).values():
            for item in items:
                if self._filters[item["index"]] is COUPON_FILTER:
                    item["options"] = _coupon_options()
        return groups


def register(admin: Admin) -> None:
    category = _l("Coupon management")
    admin.add_view(
        CouponView(
            Coupon,
            db,
            name=_l("All coupons"),
            category=category,
            endpoint=admin_endpoint("coupons"),
            url="coupons",
        )
    )
    admin.add_view(
        CouponRecordView(
            CouponRecord,
            db,
            name=_l("Coupon records"),
            category=category,
            endpoint=admin_endpoint("coupon-records"),
            url="coupon-records",
        )
    )
