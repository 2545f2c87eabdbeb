"""The staff pages as the shop grows (issue 14): the order list and its search in a fixed number
of queries, the CSV export streamed in batches, the dashboard's best sellers counted by a job."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from app.admin import orders as order_pages
from app.extensions import db
from app.models.types import utcnow
from app.services import reports
from tests.factories import CourseFactory, UserFactory
from tests.pages import html
from tests.shop_data import make_order


def _queries(staff_client, count_queries, url: str) -> int:
    with count_queries() as counter:
        html(staff_client.get(url))
    return counter.count


def test_the_order_list_and_its_search_do_not_grow_with_the_orders(staff_client, count_queries):
    course = CourseFactory()
    students = [UserFactory(username=f"sam{n}") for n in range(3)]
    for student in students:
        make_order(student, lines=[(course, "10.00", "0.00", "0.00")])
    urls = ["/admin/orders/", "/admin/orders/?search=sam", "/admin/orders/?search=2026"]
    few = [_queries(staff_client, count_queries, url) for url in urls]
    other = CourseFactory()
    for n in range(30):
        make_order(
            students[n % 3],
            lines=[(course, "10.00", "0.00", "0.00"), (other, "1.00", "0.00", "0.00")],
        )
    assert [_queries(staff_client, count_queries, url) for url in urls] == few


def test_the_export_streams_every_order_once_newest_first_in_batches(
    staff_client, count_queries, monkeypatch
):
    monkeypatch.setattr(order_pages, "EXPORT_BATCH", 3)
    start = utcnow() - timedelta(days=1)
    same_moment = start + timedelta(hours=1)
    made = [make_order(created_at=start + timedelta(minutes=n)) for n in range(5)]
    made += [make_order(created_at=same_moment) for _ in range(3)]  # a tie across batches
    with count_queries() as counter:
        response = staff_client.get("/admin/orders/export/csv/")
        assert response.is_streamed
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))[1:]
    numbers = [row[0] for row in rows]
    newest_first = sorted(made, key=lambda o: (o.created_at, o.id), reverse=True)
    assert numbers == [o.order_no for o in newest_first]
    # 8 orders in batches of 3: three pages, each with its students and lines; never per order
    assert counter.count < 8 * 2
    export = [s for s in counter.statements if "FROM orders" in s or "FROM order_lines" in s]
    assert len(export) == 3 * 2  # each batch: its orders with their students, then their lines


def test_the_export_is_written_in_chunks_each_order_with_its_lines_in_order(staff_client):
    sam = UserFactory(username="sam")
    python, flask = CourseFactory(name="Python"), CourseFactory(name="Flask")
    both = make_order(
        sam, lines=[(python, "10.00", "0.00", "0.00"), (flask, "20.00", "0.00", "0.00")]
    )
    for _ in range(40):
        make_order()
    response = staff_client.get("/admin/orders/export/csv/")
    chunks = list(response.response)
    assert len(chunks) < 5  # tens of kilobytes at a time, not a write per row
    text = "".join(c.decode() if isinstance(c, bytes) else c for c in chunks)
    columns = order_pages.EXPORT_COLUMNS
    rows = [dict(zip(columns, row, strict=True)) for row in csv.reader(io.StringIO(text))][1:]
    assert len(rows) == 41
    (row,) = [r for r in rows if r["order_no"] == both.order_no]
    assert row["username"] == "sam"
    lines = sorted(both.lines, key=lambda line: line.id)
    assert row["items"] == "; ".join(f"{x.product_name} ({x.valid_period_text})" for x in lines)
    assert [x.product_name for x in lines] == ["Python", "Flask"]
    assert order_pages.OrderView.column_export_list == order_pages.EXPORT_COLUMNS


def test_the_dashboard_shows_the_last_count_of_best_sellers(staff_client, app, monkeypatch):
    python = CourseFactory(name="Python")
    make_order(lines=[(python, "10.00", "0.00", "0.00")])
    page = html(staff_client.get("/admin/"))
    assert "Python" in page
    assert 'id="best-sellers-counted"' in page

    flask = CourseFactory(name="Flask")
    for _ in range(2):
        make_order(lines=[(flask, "10.00", "0.00", "0.00")])
    # Within BEST_SELLERS_MAX_AGE the last count stands: no count per view.
    counted = []
    real = reports.best_sellers
    monkeypatch.setattr(reports, "best_sellers", lambda *a: counted.append(1) or real(*a))
    assert "Flask" not in html(staff_client.get("/admin/"))
    assert counted == []

    later = utcnow() + reports.BEST_SELLERS_MAX_AGE + timedelta(minutes=1)
    snapshot = reports.best_sellers_snapshot(later)  # old: counted again (inline job here)
    assert counted == [1]
    assert [b.name for b in snapshot.items] == ["Flask", "Python"]
    assert "Flask" in html(staff_client.get("/admin/"))


def test_sales_per_day_are_added_up_by_sqlite_too(sqlite_app):
    from decimal import Decimal

    course = CourseFactory()
    make_order(lines=[(course, "10.50", "0.00", "0.00")], created_at=utcnow())
    make_order(lines=[(course, "0.25", "0.00", "0.00")], created_at=utcnow())
    today = reports.sales_per_day(utcnow())[-1]
    assert (today.orders, today.revenue) == (2, Decimal("10.75"))


def test_flagged_payments_are_counted_and_listed_from_their_index(staff_client, app, mariadb):
    """`needs_refund = true` reads ix_orders_needs_refund; `IS true` read the whole index
    (77 ms a dashboard view at a million orders)."""
    from tests.sql_plans import planned

    for _ in range(3):
        make_order()
    flagged = make_order()
    flagged.needs_refund = True
    db.session.commit()
    with planned() as plans:
        html(staff_client.get("/admin/"))
        html(staff_client.get("/admin/refunds/"))
    asked = [p for p in plans if any(f"needs_refund {op}" in p.statement for op in ("=", "IS"))]
    assert len(asked) >= 2  # the dashboard's count, the refund desk's list
    for plan in asked:
        for read in plan.reads("orders"):
            assert read["key"] == "ix_orders_needs_refund", (plan.statement, read)
            assert read["type"] == "ref", (plan.statement, read)
