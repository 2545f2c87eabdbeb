"""Staff read orders and payment notifications: search, filters, one order's lines, coupons and
notifications, and the CSV export of the list as filtered; nothing can be written."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.admin.orders import spreadsheet_safe
from app.extensions import db
from app.models import Order, PaymentEvent
from app.models.types import utcnow
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory, UserFactory
from tests.pages import html, sign_in
from tests.shop_data import make_order, payment_event

# The order list's filters, by position (flt<n>_<position>=value).
STATUS, METHOD, NEEDS_REFUND, CREATED_ON, CREATED_FROM, CREATED_UNTIL, CREATED_BETWEEN = range(7)


@pytest.fixture(autouse=True)
def english(client):
    client.set_cookie("lang", "en")


def listed(staff_client, query: str, orders: list[Order]) -> list[str]:
    """Which of `orders` the list shows for this query string."""
    page = html(staff_client.get(f"/admin/orders/?{query}"))
    return sorted(o.order_no for o in orders if o.order_no in page)


def test_the_list_shows_orders_with_their_student_and_amounts(staff_client):
    order = make_order(
        UserFactory(username="wendy"), lines=[(CourseFactory(), "199.00", "20.00", "0.00")]
    )
    page = html(staff_client.get("/admin/orders/"))
    assert order.order_no in page
    assert "wendy" in page
    assert "199.00" in page
    assert "179.00" in page
    assert "20.00" in page
    assert "Paid" in page


def test_orders_are_searched_by_number_and_username(staff_client):
    xena = make_order(UserFactory(username="xena"))
    yuri = make_order(UserFactory(username="yuri"))
    orders = [xena, yuri]
    assert listed(staff_client, "search=xena", orders) == [xena.order_no]
    assert listed(staff_client, f"search={yuri.order_no}", orders) == [yuri.order_no]


def test_the_order_search_reads_from_the_start_of_a_number_or_a_username(staff_client):
    # Both read an index: the start of an order number, the start of a username in any case.
    # (A piece from the middle would need a scan of every order: it finds nothing.)
    xena = make_order(UserFactory(username="Xena_2"), order_no="20260101123456789012")
    xavier = make_order(UserFactory(username="xavier"), order_no="20260202999999999999")
    digits = make_order(UserFactory(username="20261"), order_no="20250505000000000001")
    orders = [xena, xavier, digits]
    assert listed(staff_client, "search=XEN", orders) == [xena.order_no]
    assert listed(staff_client, "search=x", orders) == sorted([xena.order_no, xavier.order_no])
    assert listed(staff_client, "search=xena_", orders) == [xena.order_no]
    assert listed(staff_client, "search=xen%25", orders) == []  # % is a character here
    assert listed(staff_client, f"search={xena.order_no[:-3]}", orders) == [xena.order_no]
    assert listed(staff_client, f"search={xena.order_no[-6:]}", orders) == []
    assert listed(staff_client, "search=20261", orders) == [digits.order_no]  # its user
    assert listed(staff_client, "search=202601", orders) == [xena.order_no]  # its number
    assert listed(staff_client, "search=avier", orders) == []


def test_orders_are_filtered_by_status_method_and_refund_flag(staff_client):
    paid = make_order(status="paid", method="alipay")
    pending = make_order(status="pending")
    stray = make_order(status="cancelled", needs_refund=True)
    orders = [paid, pending, stray]
    assert listed(staff_client, f"flt0_{STATUS}=pending", orders) == [pending.order_no]
    assert listed(staff_client, f"flt0_{METHOD}=alipay", orders) == [paid.order_no]
    assert listed(staff_client, f"flt0_{NEEDS_REFUND}=1", orders) == [stray.order_no]
    assert listed(staff_client, f"flt0_{STATUS}=paid&flt1_{METHOD}=sandbox", orders) == []


def test_orders_are_filtered_by_the_day_they_were_created(app, staff_client):
    """Days as the shop's staff count them: in DISPLAY_TIMEZONE."""
    zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 3, day, hour, 0, tzinfo=zone).astimezone(UTC)

    early = make_order(created_at=at(1, 0))
    late_first = make_order(created_at=at(1, 23))
    second = make_order(created_at=at(2, 12))
    third = make_order(created_at=at(3, 0))
    orders = [early, late_first, second, third]
    assert listed(staff_client, f"flt0_{CREATED_ON}=2026-03-01", orders) == sorted(
        [early.order_no, late_first.order_no]
    )
    assert listed(staff_client, f"flt0_{CREATED_FROM}=2026-03-02", orders) == sorted(
        [second.order_no, third.order_no]
    )
    assert listed(staff_client, f"flt0_{CREATED_UNTIL}=2026-03-02", orders) == sorted(
        [early.order_no, late_first.order_no, second.order_no]
    )
    assert listed(
        staff_client, f"flt0_{CREATED_BETWEEN}=2026-03-02+to+2026-03-03", orders
    ) == sorted([second.order_no, third.order_no])


@pytest.mark.parametrize(
    "query",
    [
        f"flt0_{CREATED_ON}=yesterday",
        f"flt0_{CREATED_FROM}=2026-13-45",
        f"flt0_{CREATED_UNTIL}=9999-12-31",
        f"flt0_{CREATED_FROM}=0001-01-01",
        f"flt0_{CREATED_BETWEEN}=2026-03-05+to+2026-03-01",
        f"flt0_{CREATED_BETWEEN}=2026-03-05",
        f"flt0_{NEEDS_REFUND}=maybe",
        "flt0_99=1",
        "page=-1&sort=99&desc=x",
        "page=100000000000000000000",
        "search=%25_%27%22",
    ],
)
def test_odd_list_queries_are_not_errors(staff_client, query):
    make_order()
    assert "<table" in html(staff_client.get(f"/admin/orders/?{query}"))


def test_an_orders_page_shows_its_lines_coupons_and_notifications(staff_client):
    student = UserFactory(username="zoe")
    python, flask = CourseFactory(name="Python basics"), CourseFactory(name="Flask web")
    course_coupon = CouponFactory(name="Python ten off", product=python)
    site_coupon = CouponFactory(name="Site five off", value=Decimal("5.00"))
    records = [
        CouponRecordFactory(coupon=course_coupon, user=student, code="LINECODE"),
        CouponRecordFactory(coupon=site_coupon, user=student, code="SITECODE"),
    ]
    order = make_order(
        student,
        lines=[(python, "99.00", "10.00", "2.50"), (flask, "50.00", "0.00", "2.50")],
        records=records,
    )
    payment_event(order, trade_no="TRADE-77", outcome="applied")
    payment_event(order, trade_no="TRADE-77", outcome="duplicate", note="seen before")

    page = html(staff_client.get(f"/admin/orders/details/?id={order.id}"))
    assert order.order_no in page
    assert "zoe" in page
    for text in ("Python basics", "Flask web", "99.00", "10.00", "86.50", "47.50"):
        assert text in page
    assert "LINECODE" in page
    assert "Python ten off" in page
    assert "SITECODE" in page
    assert "Site five off" in page
    assert page.count("TRADE-77") >= 2
    assert "duplicate" in page
    assert "seen before" in page


def test_markup_in_a_username_or_product_name_is_shown_as_text(staff_client):
    order = make_order(
        UserFactory(username="x-evil"),
        lines=[(CourseFactory(name="<script>alert(1)</script>"), "10.00", "0.00", "0.00")],
    )
    page = html(staff_client.get(f"/admin/orders/details/?id={order.id}"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


# --- export -------------------------------------------------------------------------------------


def export(staff_client, query: str = "") -> list[dict[str, str]]:
    response = staff_client.get(f"/admin/orders/export/csv/?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_export_has_plain_decimals_and_iso_times(staff_client):
    created = datetime(2026, 4, 1, 8, 30, 15, tzinfo=UTC)
    order = make_order(
        UserFactory(username="amy"),
        lines=[(CourseFactory(name="Django"), "1234.50", "34.50", "0.00")],
        created_at=created,
    )
    (row,) = export(staff_client)
    values = list(row.values())
    assert order.order_no in values
    assert "amy" in values
    assert "1234.50" in values
    assert "34.50" in values
    assert "1200.00" in values
    assert "2026-04-01T08:30:15+00:00" in values
    assert "paid" in values  # the stored code, not a translated label
    assert any("Django" in value for value in values)
    assert not any("¥" in value for value in values)


def test_the_export_of_a_filtered_list_is_filtered(staff_client):
    paid = make_order(UserFactory(username="ben"), status="paid")
    make_order(UserFactory(username="cat"), status="pending")
    make_order(UserFactory(username="ben2"), status="pending")
    list_page = html(staff_client.get(f"/admin/orders/?flt0_{STATUS}=paid"))
    assert f"/admin/orders/export/csv/?flt0_{STATUS}=paid" in list_page.replace("&amp;", "&")

    rows = export(staff_client, f"flt0_{STATUS}=paid")
    assert [r for r in rows if paid.order_no in r.values()]
    assert len(rows) == 1
    searched = export(staff_client, "search=ben")
    assert len(searched) == 2
    both = export(staff_client, f"search=ben&flt0_{STATUS}=pending")
    assert len(both) == 1
    assert "ben2" in both[0].values()


def test_formulas_in_the_export_are_neutralised(staff_client):
    make_order(
        UserFactory(username="-cmd"),
        lines=[(CourseFactory(name='=HYPERLINK("http://evil","x")'), "10.00", "0.00", "0.00")],
    )
    make_order(
        UserFactory(username="@SUM"),
        lines=[(CourseFactory(name="+1+2"), "10.00", "0.00", "0.00")],
    )
    cells = [cell for row in export(staff_client) for cell in row.values()]
    assert "'-cmd" in cells
    assert "'@SUM" in cells
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
    assert any(cell.startswith("'+1+2") for cell in cells)
    assert not any(cell[:1] in "=+-@" for cell in cells if cell)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("＝1", "'＝1"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_spreadsheet_safe(value, safe):
    assert spreadsheet_safe(value) == safe


# --- read-only ----------------------------------------------------------------------------------


def test_orders_cannot_be_created_edited_or_deleted(staff_client):
    order = make_order(status="paid")
    assert staff_client.get("/admin/orders/new/").status_code == 302
    staff_client.post("/admin/orders/new/", data={"order_no": "x", "status": "paid"})
    staff_client.post(f"/admin/orders/edit/?id={order.id}", data={"status": "refunded"})
    staff_client.post("/admin/orders/delete/", data={"id": str(order.id)})
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) == 1
    assert db.session.get(Order, order.id).status == "paid"
    page = html(staff_client.get(f"/admin/orders/details/?id={order.id}"))
    assert "/admin/orders/edit/" not in page
    assert "/admin/orders/delete/" not in html(staff_client.get("/admin/orders/"))


def test_payment_notifications_are_listed_searched_and_read_only(staff_client):
    first, second = make_order(), make_order()
    one = payment_event(first, trade_no="TRADE-ONE")
    payment_event(second, trade_no="TRADE-TWO", verified=False, outcome="bad_signature")
    page = html(staff_client.get("/admin/payment-events/?search=TRADE-ONE"))
    assert "TRADE-ONE" in page
    assert "TRADE-TWO" not in page
    page = html(staff_client.get(f"/admin/payment-events/?search={second.order_no}"))
    assert "TRADE-TWO" in page
    assert "TRADE-ONE" not in page
    details = html(staff_client.get(f"/admin/payment-events/details/?id={one.id}"))
    assert first.order_no in details
    staff_client.post("/admin/payment-events/delete/", data={"id": str(one.id)})
    assert db.session.scalar(select(func.count(PaymentEvent.id))) == 2


@pytest.mark.parametrize(
    "path",
    ["/admin/orders/", "/admin/orders/export/csv/", "/admin/payment-events/"],
)
def test_a_student_is_refused_every_order_page(app, client, path):
    make_order()
    sign_in(client, UserFactory())
    assert client.get(path).status_code == 403


def test_a_student_cannot_read_an_order_or_export(app, client):
    order = make_order()
    sign_in(client, UserFactory())
    assert client.get(f"/admin/orders/details/?id={order.id}").status_code == 403


def test_a_pending_order_is_listed_with_no_paid_time(staff_client):
    order = make_order(status="pending", created_at=utcnow() - timedelta(minutes=5))
    assert order.order_no in html(staff_client.get("/admin/orders/"))


def test_order_pages_have_no_inline_event_handlers(staff_client):
    order = make_order()
    event = payment_event(order)
    for path in (
        "/admin/orders/",
        f"/admin/orders/details/?id={order.id}",
        "/admin/payment-events/",
        f"/admin/payment-events/details/?id={event.id}",
    ):
        assert not re.search(r"\son[a-z]+=", html(staff_client.get(path))), path


def test_a_notification_anyone_could_send_is_shown_as_text(staff_client):
    order = make_order()
    event = payment_event(
        order,
        verified=False,
        outcome="bad_signature",
        trade_no="<b>T</b>",
        note="<script>alert(1)</script>",
        payload={"subject": "<img src=x onerror=alert(1)>"},
    )
    for path in (
        f"/admin/payment-events/details/?id={event.id}",
        f"/admin/orders/details/?id={order.id}",
    ):
        page = html(staff_client.get(path))
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
        assert "<b>T</b>" not in page
