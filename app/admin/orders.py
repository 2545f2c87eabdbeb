"""Orders and payment notifications for staff, read-only: the store writes them itself.

Orders are searched by order number and username and filtered by status, payment method, the
refund flag and the day they were created (UTC); one order's page shows its lines, the coupon
records it used and the notifications received for it. The CSV export is of the list as
filtered, money as plain decimals, times in ISO 8601, and no cell a spreadsheet would run as a
formula. (Refunds have their own page.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask_admin import Admin
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter, FilterEqual
from flask_admin.model import filters as admin_filters
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.admin import admin_endpoint
from app.admin.base import ReadOnlyModelView
from app.extensions import db
from app.models import CouponRecord, Order, OrderStatus, PaymentEvent, PaymentMethod
from app.money import amount_text

STATUS_CHOICES = [
    (OrderStatus.PENDING.value, _l("Pending")),
    (OrderStatus.PAID.value, _l("Paid")),
    (OrderStatus.CANCELLED.value, _l("Cancelled")),
    (OrderStatus.EXPIRED.value, _l("Expired")),
    (OrderStatus.REFUND_REQUESTED.value, _l("Refund requested")),
    (OrderStatus.REFUNDED.value, _l("Refunded")),
]
STATUS_LABELS = dict(STATUS_CHOICES)
METHOD_CHOICES = [
    (PaymentMethod.ALIPAY.value, _l("Alipay")),
    (PaymentMethod.SANDBOX.value, _l("Sandbox")),
]
METHOD_LABELS = dict(METHOD_CHOICES)

# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets (the
# full-width forms too, in some locales): such a cell is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def spreadsheet_safe(value: str) -> str:
    """`value` as a spreadsheet shows it and never runs it (OWASP's CSV injection advice)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _iso(view: Any, value: datetime, name: str) -> str:
    return value.astimezone(UTC).isoformat()


def _plain_decimal(view: Any, value: Decimal, name: str) -> str:
    return str(value)


def _yes_no(view: Any, value: bool, name: str) -> str:
    return "true" if value else "false"


EXPORT_TYPES = {
    type(None): lambda view, value, name: "",
    bool: _yes_no,
    datetime: _iso,
    Decimal: _plain_decimal,
}


# --- the day an order was created --------------------------------------------------------------


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _end_of(day: date) -> datetime | None:
    """The moment after `day` (UTC), or None on the last day there is."""
    return _start_of(day + timedelta(days=1)) if day < date.max else None


def _from_day(column: Any, day: date) -> Any:
    return column >= _start_of(day)


def _to_day(column: Any, day: date) -> Any:
    end = _end_of(day)
    return column.is_not(None) if end is None else column < end


class CreatedOnFilter(BaseSQLAFilter, admin_filters.BaseDateFilter):
    def apply(self, query: Any, value: date, alias: Any = None) -> Any:
        column = self.get_column(alias)
        return query.filter(_from_day(column, value), _to_day(column, value))

    def operation(self) -> Any:
        return _l("on (UTC)")


class CreatedFromFilter(BaseSQLAFilter, admin_filters.BaseDateFilter):
    def apply(self, query: Any, value: date, alias: Any = None) -> Any:
        return query.filter(_from_day(self.get_column(alias), value))

    def operation(self) -> Any:
        return _l("on or after (UTC)")


class CreatedUntilFilter(BaseSQLAFilter, admin_filters.BaseDateFilter):
    def apply(self, query: Any, value: date, alias: Any = None) -> Any:
        return query.filter(_to_day(self.get_column(alias), value))

    def operation(self) -> Any:
        return _l("on or before (UTC)")


class CreatedBetweenFilter(BaseSQLAFilter, admin_filters.BaseDateBetweenFilter):
    """From the first day to the last, both whole (UTC): `2026-03-01 to 2026-03-31`."""

    def __init__(self, column: Any, name: str) -> None:
        super().__init__(column, name, data_type="daterangepicker")

    def apply(self, query: Any, value: list[date], alias: Any = None) -> Any:
        first, last = value
        column = self.get_column(alias)
        return query.filter(_from_day(column, first), _to_day(column, last))


# --- orders -------------------------------------------------------------------------------------


def _status(view: Any, context: Any, model: Order, name: str) -> str:
    return str(STATUS_LABELS.get(model.status, model.status))


def _method(view: Any, context: Any, model: Order, name: str) -> str:
    return str(METHOD_LABELS.get(model.payment_method, model.payment_method))


def _money(view: Any, context: Any, model: Any, name: str) -> str:
    value = getattr(model, name)
    return "" if value is None else amount_text(value)


def _username(view: Any, context: Any, model: Any, name: str) -> str:
    return model.user.username if model.user is not None else ""


def _order_link(view: Any, context: Any, model: PaymentEvent, name: str) -> Markup | str:
    if model.order is None:
        return ""
    url = view.get_url(admin_endpoint("orders") + ".details_view", id=model.order_id)
    return Markup('<a href="{}">{}</a>').format(url, model.order.order_no)


def _items(view: Any, context: Any, model: Order, name: str) -> str:
    return "; ".join(f"{line.product_name} ({line.valid_period_text})" for line in model.lines)


ORDER_LIST_FORMATTERS = {
    "status": _status,
    "payment_method": _method,
    "user": _username,
    "original_amount": _money,
    "discount_amount": _money,
    "actual_amount": _money,
}


class OrderView(ReadOnlyModelView):
    """Every order, newest first; exported as CSV for the books."""

    details_template = "admin/orders/details.html"
    column_list = (
        "order_no",
        "user",
        "status",
        "payment_method",
        "original_amount",
        "discount_amount",
        "actual_amount",
        "created_at",
        "paid_at",
        "needs_refund",
    )
    column_details_list = (
        "order_no",
        "user",
        "status",
        "payment_method",
        "trade_no",
        "original_amount",
        "discount_amount",
        "actual_amount",
        "created_at",
        "expires_at",
        "paid_at",
        "closed_at",
        "idempotency_key",
        "refund_reason",
        "refund_requested_at",
        "refunded_at",
        "refund_error",
        "needs_refund",
    )
    column_labels = {
        "order_no": _l("Order number"),
        "user": _l("Student"),
        "payment_method": _l("Payment"),
        "original_amount": _l("Price (¥)"),
        "discount_amount": _l("Discount (¥)"),
        "actual_amount": _l("Paid (¥)"),
        "created_at": _l("Created (UTC)"),
        "expires_at": _l("Expires (UTC)"),
        "paid_at": _l("Paid at (UTC)"),
        "closed_at": _l("Closed (UTC)"),
        "refund_requested_at": _l("Refund asked (UTC)"),
        "refunded_at": _l("Refunded (UTC)"),
        "needs_refund": _l("Payment to give back"),
    }
    column_formatters = ORDER_LIST_FORMATTERS
    column_searchable_list = ("order_no", "user.username")
    column_filters = (
        FilterEqual(Order.status, _l("Status"), options=STATUS_CHOICES),
        FilterEqual(Order.payment_method, _l("Payment"), options=METHOD_CHOICES),
        BooleanEqualFilter(Order.needs_refund, _l("Payment to give back")),
        CreatedOnFilter(Order.created_at, _l("Created")),
        CreatedFromFilter(Order.created_at, _l("Created")),
        CreatedUntilFilter(Order.created_at, _l("Created")),
        CreatedBetweenFilter(Order.created_at, _l("Created")),
    )
    column_sortable_list = (
        "order_no",
        ("user", "user.username"),
        "status",
        "actual_amount",
        "created_at",
        "paid_at",
    )
    column_default_sort = [("created_at", True), ("id", True)]

    can_export = True
    export_types = ["csv"]
    column_export_list = (
        "order_no",
        "username",
        "status",
        "payment_method",
        "original_amount",
        "discount_amount",
        "actual_amount",
        "created_at",
        "paid_at",
        "closed_at",
        "refunded_at",
        "trade_no",
        "needs_refund",
        "items",
    )
    column_formatters_export = {
        "username": _username,
        "items": _items,
    }
    column_type_formatters_export = EXPORT_TYPES

    def get_query(self) -> Any:
        return super().get_query().options(joinedload(Order.user), selectinload(Order.lines))

    def get_export_value(self, model: Order, name: str) -> Any:
        value = super().get_export_value(model, name)
        return spreadsheet_safe(value) if isinstance(value, str) else value

    def get_export_name(self, export_type: str = "csv") -> str:
        return f"orders-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.{export_type}"

    # What the order's page shows below its fields.

    def lines_of(self, order: Order) -> list[Any]:
        return list(order.lines)

    def coupon_records_of(self, order: Order) -> list[CouponRecord]:
        """The records the order holds or used, and those its lines were priced with."""
        line_records = [line.coupon_record_id for line in order.lines if line.coupon_record_id]
        stmt = (
            select(CouponRecord)
            .where(or_(CouponRecord.order_id == order.id, CouponRecord.id.in_(line_records)))
            .options(joinedload(CouponRecord.coupon))
            .order_by(CouponRecord.id)
        )
        return list(db.session.scalars(stmt))

    def payment_events_of(self, order: Order) -> list[PaymentEvent]:
        stmt = (
            select(PaymentEvent)
            .where(PaymentEvent.order_id == order.id)
            .order_by(PaymentEvent.received_at, PaymentEvent.id)
        )
        return list(db.session.scalars(stmt))

    def money(self, value: Decimal | None) -> str:
        return "" if value is None else amount_text(value)

    def status_label(self, status: str) -> str:
        return str(STATUS_LABELS.get(status, status))

    def coupon_url(self, coupon_id: int) -> str:
        return self.get_url(admin_endpoint("coupons") + ".details_view", id=coupon_id)

    def event_url(self, event_id: int) -> str:
        return self.get_url(admin_endpoint("payment-events") + ".details_view", id=event_id)


# --- payment notifications ----------------------------------------------------------------------


class PaymentEventView(ReadOnlyModelView):
    """Every notification as received, verified or not, for audit and reconciliation."""

    column_list = (
        "received_at",
        "gateway",
        "out_trade_no",
        "trade_no",
        "trade_status",
        "total_amount",
        "verified",
        "outcome",
        "order",
    )
    column_details_list = (*column_list, "note", "payload")
    column_labels = {
        "received_at": _l("Received (UTC)"),
        "out_trade_no": _l("Order number sent"),
        "trade_no": _l("Gateway trade number"),
        "total_amount": _l("Amount sent"),
    }
    column_formatters = {"order": _order_link}
    column_searchable_list = ("out_trade_no", "trade_no")
    column_filters = (
        BooleanEqualFilter(PaymentEvent.verified, _l("Verified")),
        FilterEqual(PaymentEvent.outcome, _l("Outcome")),
        FilterEqual(PaymentEvent.gateway, _l("Gateway"), options=METHOD_CHOICES),
    )
    column_sortable_list = ("received_at", "out_trade_no", "trade_no", "outcome")
    column_default_sort = [("received_at", True), ("id", True)]

    def get_query(self) -> Any:
        return super().get_query().options(joinedload(PaymentEvent.order))


def register(admin: Admin) -> None:
    category = _l("Orders")
    for view, model, name, slug in (
        (OrderView, Order, _l("Orders"), "orders"),
        (PaymentEventView, PaymentEvent, _l("Payment notifications"), "payment-events"),
    ):
        admin.add_view(
            view(model, db, name=name, category=category, endpoint=admin_endpoint(slug), url=slug)
        )
