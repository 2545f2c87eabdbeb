"""What every staff page shares: who may see it, CSRF on every form, and safe defaults."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, redirect, request, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin import form as admin_form
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.model import typefmt
from flask_admin.model.form import InlineFormAdmin, converts
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DecimalField
from wtforms.form import BaseForm

from app.admin.labels import FIELD_LABELS, VALUE_LABELS
from app.models.types import UTC
from app.money import money_label
from app.templating import display_zone, local_time


def is_staff() -> bool:
    return bool(current_user.is_authenticated and current_user.is_staff)


def refuse_visitor() -> Any:
    """Signed out: the login page, coming back here afterwards. Signed in but not staff: 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


class StaffOnly:
    """Mixed into every admin view: staff users only (checked on every request)."""

    def is_accessible(self) -> bool:
        return is_staff()

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        return refuse_visitor()


class StaffIndexView(StaffOnly, AdminIndexView):
    """The dashboard: what waits for staff (refund requests, payments to give back), sales of
    the last 30 days, best sellers, coupon usage; its figures as CSV."""

    @expose("/")
    def index(self) -> str:
        figures = _dashboard_figures()
        days = figures["days"]
        chart = {
            "labels": [d.day.isoformat() for d in days],
            "revenue": [str(d.revenue) for d in days],
            "orders": [d.orders for d in days],
        }
        return self.render(self._template, chart=chart, **figures, **_waiting())

    @expose("/dashboard.csv")
    def figures_csv(self) -> Any:
        """The dashboard's figures for a spreadsheet: one table after another, each with its
        heading row; money as plain decimals."""
        from app.admin.orders import spreadsheet_safe
        from app.models.types import utcnow

        figures, waiting = _dashboard_figures(), _waiting()
        out = io.StringIO()
        rows = csv.writer(out)
        rows.writerow([_("Refund requests"), waiting["refund_requests"]])
        rows.writerow([_("Payments to give back"), waiting["flagged_payments"]])
        rows.writerow([_("Revenue, last 30 days"), figures["total_revenue"]])
        rows.writerow([_("Paid orders, last 30 days"), figures["total_orders"]])
        rows.writerow([])
        rows.writerow([_("Day"), _("Paid orders"), _("Revenue")])
        for d in figures["days"]:
            rows.writerow([d.day.isoformat(), d.orders, d.revenue])
        rows.writerow([])
        rows.writerow([_("Product"), _("Sold"), _("Revenue")])
        for b in figures["best_sellers"]:
            rows.writerow([spreadsheet_safe(b.name), b.sold, b.revenue])
        rows.writerow([])
        rows.writerow([_("Coupon"), _("Quantity"), _("Claimed"), _("Reserved"), _("Used")])
        for c in figures["coupons"]:
            quantity = "" if c.quantity is None else c.quantity
            rows.writerow([spreadsheet_safe(c.name), quantity, c.claimed, c.reserved, c.used])
        name = f"dashboard-{utcnow().strftime('%Y%m%d-%H%M%S')}.csv"
        return Response(
            "\ufeff" + out.getvalue(),  # the BOM: Excel reads the Chinese names as UTF-8
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _dashboard_figures() -> dict[str, Any]:
    from app.models.types import utcnow
    from app.services import reports

    days = reports.sales_per_day(utcnow())
    return {
        "days": days,
        "total_revenue": sum((d.revenue for d in days), start=reports.ZERO),
        "total_orders": sum(d.orders for d in days),
        "best_sellers": (best := reports.best_sellers_snapshot(utcnow())).items,
        "best_sellers_counted_at": best.counted_at,
        "coupons": reports.coupon_usage(),
    }


def _waiting() -> dict[str, Any]:
    """What waits for staff, counted, with where it is handled."""
    from sqlalchemy import func, select, true

    from app.extensions import db
    from app.models import Order, OrderStatus

    def count(*where: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(Order).where(*where)) or 0

    return {
        "refund_requests": count(Order.status == OrderStatus.REFUND_REQUESTED),
        # `= true`, which reads ix_orders_needs_refund; `IS true` read all of it (77 ms at 1M)
        "flagged_payments": count(Order.needs_refund == true()),
        "refund_requests_url": url_for("admin_refunds.index", _anchor="requests"),
        "flagged_payments_url": url_for("admin_refunds.index", _anchor="flagged"),
    }


class StaffView(StaffOnly, BaseView):
    rich_text_editor = False


class StaffForm(FlaskForm):
    """Flask-WTF's form (its CSRF token is what CSRFProtect checks), remembering the record it
    edits as Flask-Admin's own forms do, so that its `Unique` check skips that record."""

    def __init__(self, *args: Any, obj: Any = None, **kwargs: Any) -> None:
        self._obj = obj
        super().__init__(*args, obj=obj, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if not valid:
            _plain_errors(self)
        return valid


def _plain_errors(form: BaseForm) -> None:
    """Lazy (translated) messages as plain text: Flask-Admin shows a field's errors only when
    they are `str`, so a lazily translated message would be silently left off the page."""
    for field in form:
        _plain_field_errors(field)


def _plain_field_errors(field: Any) -> None:
    for entry in getattr(field, "entries", None) or ():  # inline lists
        _plain_field_errors(entry)
    inner = getattr(field, "form", None)
    if isinstance(inner, BaseForm):  # inline one-to-one forms
        _plain_errors(inner)
    if isinstance(field.errors, list):
        field.errors[:] = [e if isinstance(e, dict | list) else str(e) for e in field.errors]


class LocalDateTimeField(admin_form.DateTimeField):
    """A time staff type and read in the shop's zone (`DISPLAY_TIMEZONE`), to the minute
    (seconds may be typed too); stored in UTC, aware, as the store keeps every time."""

    FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["format"] = list(self.FORMATS)
        kwargs.setdefault("render_kw", {})
        kwargs["render_kw"] = {
            "data-date-format": "YYYY-MM-DD HH:mm",
            "placeholder": "2026-12-01 09:00",  # an example reads in every language
            "autocomplete": "off",
            **kwargs["render_kw"],
        }
        super().__init__(*args, **kwargs)
        self.format = list(self.FORMATS)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:  # full-width digits and separators as an IME types them
            valuelist = [" ".join(v.translate(_HALF_WIDTH).split()) for v in valuelist]
        super().process_formdata(valuelist)
        if self.data is not None and self.data.tzinfo is None:
            zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
            self.data = self.data.replace(tzinfo=zone).astimezone(UTC)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        return local_time(self.data, zone=False) if self.data else ""


_HALF_WIDTH = str.maketrans("０１２３４５６７８９－：　", "0123456789-: ")


class StoreModelConverter(AdminModelConverter):
    """Flask-Admin's converter, knowing the store's column types (app/models/types.py)."""

    @converts("Money")
    def convert_money(self, field_args: dict[str, Any], **extra: Any) -> DecimalField:
        field_args.setdefault("places", 2)
        return DecimalField(**field_args)

    @converts("UTCDateTime")
    def convert_utc_datetime(self, field_args: dict[str, Any], **extra: Any) -> LocalDateTimeField:
        field_args.setdefault("description", _zone_note())
        return LocalDateTimeField(**field_args)


class _ZoneNote:
    """ "Shop time (UTC+8)", worked out when a form shows it (the zone is the app's setting)."""

    def __str__(self) -> str:
        return _("Shop time (%(zone)s)", zone=display_zone())

    def __html__(self) -> str:
        return str(Markup.escape(str(self)))


def _zone_note() -> _ZoneNote:
    return _ZoneNote()


def _time(view: Any, value: datetime, name: str) -> str:
    return local_time(value)


def _yes_no(view: Any, value: bool, name: str) -> Markup:
    icon = "fa-check-circle text-success" if value else "fa-minus-circle text-muted"
    text = _("Yes") if value else _("No")
    # No `sr-only` text: absolutely placed, it would escape a list that scrolls on a phone.
    return Markup('<span class="fa {}" role="img" title="{}" aria-label="{}"></span>').format(
        icon, text, text
    )


def _money(view: Any, value: Decimal, name: str) -> str:
    return money_label(value)


TYPE_FORMATTERS = {
    **typefmt.BASE_FORMATTERS,
    datetime: _time,
    bool: _yes_no,
    Decimal: _money,
}
DETAIL_TYPE_FORMATTERS = {
    **typefmt.DETAIL_FORMATTERS,
    **TYPE_FORMATTERS,
    bool: lambda view, value, name: _("Yes") if value else _("No"),  # a page of words
}


def value_label(labels: dict) -> Any:
    """A column formatter showing a stored value's label (`beginner` -> 初级)."""

    def formatter(view: Any, context: Any, model: Any, name: str) -> str:
        value = getattr(model, name.rsplit(".", 1)[-1], None)
        if value is None:
            return ""
        return str(labels.get(str(value), value))

    return formatter


class StaffInline(InlineFormAdmin):
    """An inline form (a course's prices, FAQs...) labelled as the staff pages label fields."""

    column_labels = FIELD_LABELS


class IdEqualFilter(FilterEqual):
    """Records of one row of another table by its id (one user's orders): the target of links
    between the staff pages, e.g. `?flt0_<index>=<id>`."""

    def validate(self, value: Any) -> bool:
        return isinstance(value, str) and value.isdigit() and len(value) < 12

    def clean(self, value: Any) -> int:
        return int(value)


def user_link(view: Any, context: Any, model: Any, name: str) -> Markup | str:
    """A column formatter: the record's student, linked to their page."""
    if model.user is None:
        return ""
    url = url_for("admin_users.details_view", id=model.user_id)
    return Markup('<a href="{}">{}</a>').format(url, model.user.username)


class StaffModelView(StaffOnly, ModelView):
    """A model's pages. Forms are Flask-WTF forms, so every one (create, edit, delete, the
    list's actions) carries the CSRF token that the app's CSRFProtect checks on every POST."""

    form_base_class = StaffForm
    rich_text_editor = False  # True: the page loads the rich-text editor (Quill)
    model_form_converter = StoreModelConverter
    page_size = 20
    can_set_page_size = True
    can_view_details = True
    create_modal = False
    edit_modal = False
    details_modal = False
    column_type_formatters = TYPE_FORMATTERS
    column_type_formatters_detail = DETAIL_TYPE_FORMATTERS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Every field is labelled in the page's language, every stored value by its label,
        # unless the view says otherwise.
        self.column_labels = {**FIELD_LABELS, **(self.column_labels or {})}
        formatters = {
            name: value_label(labels)
            for name, labels in VALUE_LABELS.items()
            if name not in (self.column_formatters or {})
        }
        self.column_formatters = {**formatters, **(self.column_formatters or {})}
        super().__init__(*args, **kwargs)

    def _get_list_extra_args(self) -> Any:
        # Flask-Admin hands `?page=-1` (or a page past any offset) to the database as is: an
        # SQL error, a 500. A page out of range is the first or an empty one instead.
        args = super()._get_list_extra_args()
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        return args


MAX_PAGE = 1_000_000


class ReadOnlyModelView(StaffModelView):
    """Records the store writes itself (orders, payment events): staff read, never edit."""

    can_create = False
    can_edit = False
    can_delete = False
