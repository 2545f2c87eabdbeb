"""The staff dashboard: revenue and orders per day, best sellers, coupon usage."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from app.models.types import utcnow
from app.services import reports
from tests.factories import CouponFactory, CouponRecordFactory, CourseFactory
from tests.pages import html
from tests.shop_data import make_order


def paid_order(course, amount: str, paid_days_ago: int = 0, status: str = "paid"):
    """An order of one course at `amount`, paid `paid_days_ago` days ago (a minute after it
    was made)."""
    created = utcnow() - timedelta(days=paid_days_ago, minutes=1)
    return make_order(lines=[(course, amount, "0.00", "0.00")], status=status, created_at=created)


def test_sales_per_day_counts_paid_orders_on_their_day(app):
    python, flask = CourseFactory(name="Python"), CourseFactory(name="Flask")
    paid_order(python, "99.00")
    paid_order(python, "0.50")
    paid_order(flask, "10.00", paid_days_ago=3)
    paid_order(flask, "500.00", status="refunded")  # refunded: no longer revenue
    paid_order(flask, "500.00", paid_days_ago=40)  # outside the 30 days

    days = reports.sales_per_day(utcnow())
    assert len(days) == 30
    assert days[-1].day == utcnow().date()
    assert (days[-1].orders, days[-1].revenue) == (2, Decimal("99.50"))
    assert (days[-4].orders, days[-4].revenue) == (1, Decimal("10.00"))
    assert sum(d.orders for d in days) == 3

    # Best sellers are of all time (the refunded order left out); ties go by revenue.
    best = reports.best_sellers()
    assert [(b.name, b.sold, b.revenue) for b in best] == [
        ("Flask", 2, Decimal("510.00")),
        ("Python", 2, Decimal("99.50")),
    ]


def test_coupon_usage_counts_records_by_status(app):
    coupon = CouponFactory(name="Spring sale", quantity=10)
    for status in ("used", "used", "reserved", "unused"):
        CouponRecordFactory(coupon=coupon, status=status)
    usage = {c.name: c for c in reports.coupon_usage()}
    assert (usage["Spring sale"].used, usage["Spring sale"].reserved) == (2, 1)


def test_the_dashboard_page_shows_the_figures_and_draws_a_chart(staff_client):
    paid_order(CourseFactory(name="Python"), "99.00")
    page = html(staff_client.get("/admin/"))
    assert 'id="sales-chart"' in page
    assert "chart.umd.min.js" in page
    assert "¥99.00" in page
    assert "Python" in page
    assert '<script type="application/json" id="sales-data">' in page
