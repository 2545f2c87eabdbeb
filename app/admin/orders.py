"""Orders and payment notifications for staff, read-only: the store writes them itself.

Orders are searched by order number and username and filtered by status, payment method, the
refund flag and the day they were created (the shop's days, `DISPLAY_TIMEZONE`); one order's
page shows its lines, the coupon records it used and the notifications received for it. The
CSV export is of the list as filtered, money as plain decimals, times in ISO 8601, and no cell
a spreadsheet would run as a formula. (Refunds have their own page.)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, stream_with_context, url_for
from flask_admin import Admin
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter, FilterEqual
from flask_admin.model import filters as admin_filters
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.utils import secure_filename

from app.admin import admin_endpoint
from app.admin.base import IdEqualFilter, ReadOnlyModelView, user_link
from app.admin.labels import ITEM_TYPES
from app.extensions import db
from app.models import (
    CouponRecord,
    Order,
    OrderLine,
    OrderStatus,
    PaymentEvent,
    PaymentMethod,
    User,
)
from app.money import money_label

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
    """The first moment of `day` as the shop's staff count days (`DISPLAY_TIMEZONE`), in UTC."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    try:
        return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC: before any order
        return datetime.min.replace(tzinfo=UTC)


def _end_of(day: date) -> datetime | None:
    """The moment after `day`, or None on the last day there is."""
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
        return _l("on")


class CreatedFromFilter(BaseSQLAFilter, admin_filters.BaseDateFilter):
    def apply(self, query: Any, value: date, alias: Any = None) -> Any:
        return query.filter(_from_day(self.get_column(alias), value))

    def operation(self) -> Any:
        return _l("on or after")


class CreatedUntilFilter(BaseSQLAFilter, admin_filters.BaseDateFilter):
    def apply(self, query: Any, value: date, alias: Any = None) -> Any:
        return query.filter(_to_day(self.get_column(alias), value))

    def operation(self) -> Any:
        return _l("on or before")


class CreatedBetweenFilter(BaseSQLAFilter, admin_filters.BaseDateBetweenFilter):
    """From the first day to the last, both whole: `2026-03-01 to 2026-03-31`."""

    def __init__(self, column: Any, name: str) -> None:
        super().__init__(column, name, data_type="daterangepicker")

    def apply(self, query: Any, value: list[date], alias: Any = None) -> Any:
        first, last = value
        column = self.get_column(alias)
        return query.filter(_from_day(column, first), _to_day(column, last))


# --- orders -------------------------------------------------------------------------------------

USER_FILTER = IdEqualFilter(Order.user_id, _l("Student ID"))
STATUS_FILTER = FilterEqual(Order.status, _l("Status"), options=STATUS_CHOICES)
REFUND_FILTER = BooleanEqualFilter(Order.needs_refund, _l("Payment to give back"))


def orders_url(**filters: Any) -> str:
    """The orders list filtered: `orders_url(user=3)`, `orders_url(status="refund_requested")`,
    `orders_url(needs_refund=1)`."""
    args = {}
    for i, (name, value) in enumerate(filters.items()):
        flt = {"user": USER_FILTER, "status": STATUS_FILTER, "needs_refund": REFUND_FILTER}[name]
        args[f"flt{i}_{OrderView.column_filters.index(flt)}"] = value
    return url_for(admin_endpoint("orders") + ".index_view", **args)


def _status(view: Any, context: Any, model: Order, name: str) -> str:
    return str(STATUS_LABELS.get(model.status, model.status))


def _method(view: Any, context: Any, model: Order, name: str) -> str:
    return str(METHOD_LABELS.get(model.payment_method, model.payment_method))


def _money(view: Any, context: Any, model: Any, name: str) -> str:
    value = getattr(model, name)
    return "" if value is None else money_label(value)


def _order_link(view: Any, context: Any, model: PaymentEvent, name: str) -> Markup | str:
    if model.order is None:
        return ""
    url = view.get_url(admin_endpoint("orders") + ".details_view", id=model.order_id)
    return Markup('<a href="{}">{}</a>').format(url, model.order.order_no)


ORDER_LIST_FORMATTERS = {
    "status": _status,
    "payment_method": _method,
    "user": user_link,
    "original_amount": _money,
    "discount_amount": _money,
    "actual_amount": _money,
}


# The exported columns (OrderView.column_export_list): `username` is the student's, `items`
# the order's lines; the rest are the order's own columns (export_rows reads them so).
EXPORT_COLUMNS = (
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
        "original_amount": _l("Price"),
        "discount_amount": _l("Discount"),
        "actual_amount": _l("Paid"),
        "created_at": _l("Created"),
        "expires_at": _l("Expires"),
        "paid_at": _l("Paid at"),
        "closed_at": _l("Closed"),
        "refund_requested_at": _l("Refund asked"),
        "refunded_at": _l("Refunded"),
        "refund_rejection": _l("Refund refused because"),
        "refund_rejected_at": _l("Refund refused"),
        "needs_refund": _l("Payment to give back"),
    }
    column_formatters = ORDER_LIST_FORMATTERS
    column_searchable_list = ("order_no", "user.username")
    column_filters = (
        STATUS_FILTER,
        FilterEqual(Order.payment_method, _l("Payment"), options=METHOD_CHOICES),
        REFUND_FILTER,
        CreatedOnFilter(Order.created_at, _l("Created")),
        CreatedFromFilter(Order.created_at, _l("Created")),
        CreatedUntilFilter(Order.created_at, _l("Created")),
        CreatedBetweenFilter(Order.created_at, _l("Created")),
        USER_FILTER,  # last: links keep the others' positions
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
    column_export_list = EXPORT_COLUMNS

    # No COUNT(*) over every order for each list page: "previous / next" pages instead.
    simple_list_pager = True

    def search_placeholder(self) -> str:
        return str(_l("Order number or username (or their start)"))

    def get_query(self) -> Any:
        return super().get_query().options(joinedload(Order.user), selectinload(Order.lines))

    def _apply_search(
        self, query: Any, count_query: Any, joins: Any, count_joins: Any, search: str
    ) -> tuple[Any, Any, Any, Any]:
        """An order number or its start, or a username or its start (any case): both read an
        index (Flask-Admin's own search casts every column and matches '%term%', a scan of every
        order). A term of digits is tried as both, since usernames may be digits."""
        condition = order_search(search)
        if condition is not None:
            query = query.filter(condition)
            if count_query is not None:
                count_query = count_query.filter(condition)
        return query, count_query, joins, count_joins

    def _export_csv(self, return_url: Any) -> Any:
        """The list as searched and filtered, newest first, as CSV: streamed in chunks of about
        EXPORT_CHUNK bytes, read EXPORT_BATCH orders at a time by their place in
        ix_orders_created as plain rows (no ORM objects, no per-cell formatter lookup), so
        memory stays flat and a million orders take about a minute, not a quarter of an hour
        (bench/README.md, "Cost of growth")."""
        args = self._get_list_extra_args()
        _, query = self.get_list(
            0, None, False, args.search, args.filters, execute=False, page_size=0
        )
        titles = [str(label) for _, label in self._export_columns]  # EXPORT_COLUMNS'
        rows = export_rows(query.whereclause)

        def generate() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(titles)
            for row in rows:
                writer.writerow(row)
                if out.tell() >= EXPORT_CHUNK:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
            yield out.getvalue()

        name = secure_filename(self.get_export_name(export_type="csv"))
        return Response(
            stream_with_context(generate()),
            headers={"Content-Disposition": f"attachment;filename={name}"},
            mimetype="text/csv",
        )

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
        return "" if value is None else money_label(value)

    def item_type_label(self, item_type: str) -> str:
        return str(ITEM_TYPES.get(item_type, item_type))

    def status_label(self, status: str) -> str:
        return str(STATUS_LABELS.get(status, status))

    def coupon_url(self, coupon_id: int) -> str:
        return self.get_url(admin_endpoint("coupons") + ".details_view", id=coupon_id)

    def event_url(self, event_id: int) -> str:
        return self.get_url(admin_endpoint("payment-events") + ".details_view", id=event_id)


ORDER_NO = re.compile(r"[0-9]{1,20}")
EXPORT_BATCH = 2000  # orders a query
EXPORT_CHUNK = 64 * 1024  # characters of CSV handed to the server at a time
USER_IDS = 1000  # a username prefix matching more users is searched with a subquery


def _prefix(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def order_search(search: str) -> Any:
    """The staff search of orders as one condition (None for an empty search). The matching
    users are looked up first (their unique index): a short list of ids lets MariaDB merge the
    two indexes of `order_no OR user_id`, where a subquery made it read every order."""
    term = search.strip()
    if not term:
        return None
    users = select(User.id).where(User.username_key.like(_prefix(term.lower()), escape="\\"))
    found = db.session.scalars(users.limit(USER_IDS + 1)).all()
    by_user = Order.user_id.in_(found if len(found) <= USER_IDS else users)
    if ORDER_NO.fullmatch(term):
        by_number = Order.order_no.like(_prefix(term), escape="\\")
        return or_(by_number, by_user) if found else by_number
    return by_user


def export_cell(value: Any) -> str:
    """One exported value as EXPORT_TYPES writes it, a text made spreadsheet-safe."""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    formatter = EXPORT_TYPES.get(type(value))
    return str(value) if formatter is None else formatter(None, value, "")


def export_rows(where: Any) -> Iterator[list[str]]:
    """Every order matching `where` (None: all), newest first (created_at, id), as CSV cells in
    EXPORT_COLUMNS' order: EXPORT_BATCH orders a query, with their students' names joined and
    their lines read in one more query per batch."""
    own = [getattr(Order, name) for name in EXPORT_COLUMNS if name not in ("username", "items")]
    stmt = select(Order.id, Order.created_at, User.username, *own).outerjoin(
        User, User.id == Order.user_id
    )
    if where is not None:
        stmt = stmt.where(where)
    stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc()).limit(EXPORT_BATCH)
    after: tuple[Any, Any] | None = None
    while True:
        page = stmt
        if after is not None:
            page = stmt.where(
                or_(
                    Order.created_at < after[0],
                    and_(Order.created_at == after[0], Order.id < after[1]),
                )
            )
        batch = db.session.execute(page).all()
        if not batch:
            return
        items: dict[int, list[str]] = {}
        for order_id, name, period in db.session.execute(
            select(OrderLine.order_id, OrderLine.product_name, OrderLine.valid_period_text)
            .where(OrderLine.order_id.in_([row[0] for row in batch]))
            .order_by(OrderLine.order_id, OrderLine.id)
        ):
            items.setdefault(order_id, []).append(f"{name} ({period})")
        for order_id, _created, username, *values in batch:
            cells = [export_cell(v) for v in values]
            cells.insert(1, spreadsheet_safe(username or ""))
            cells.append(spreadsheet_safe("; ".join(items.get(order_id, ()))))
            yield cells
        after = (batch[-1][1], batch[-1][0])
        if len(batch) < EXPORT_BATCH:
            return


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
        "received_at": _l("Received"),
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
