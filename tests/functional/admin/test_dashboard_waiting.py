"""The dashboard counts what waits for staff (refund requests, payments to give back), each
linking to where it is handled, and gives its figures as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from app.models.types import utcnow
from tests.factories import CourseFactory
from tests.pages import html
from tests.shop_data import make_order


def figure(page: str, ident: str) -> str:
    return page.split(f'id="{ident}">', 1)[1].split("<", 1)[0]


def test_waiting_work_is_counted_and_linked(staff_client):
    make_order(status="refund_requested")
    make_order(status="refund_requested")
    make_order(status="cancelled", needs_refund=True)
    make_order(status="paid")
    page = html(staff_client.get("/admin/"))
    assert figure(page, "refund-requests") == "2"
    assert figure(page, "flagged-payments") == "1"
    assert 'href="/admin/refunds/#requests"' in page
    assert 'href="/admin/refunds/#flagged"' in page


def test_money_on_the_dashboard_reads_as_money(staff_client):
    course = CourseFactory(name="大课")
    make_order(
        lines=[(course, "1048.19", "0.00", "0.00")], created_at=utcnow() - timedelta(hours=1)
    )
    page = html(staff_client.get("/admin/"))
    assert figure(page, "total-revenue").strip() == "¥1,048.19"


def test_the_figures_download_as_csv(staff_client):
    course = CourseFactory(name="=大课")
    make_order(
        lines=[(course, "1048.19", "0.00", "0.00")], created_at=utcnow() - timedelta(hours=1)
    )
    make_order(status="refund_requested", created_at=utcnow() - timedelta(days=40))
    response = staff_client.get("/admin/dashboard.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Refund requests", "1"]
    assert rows[2][0] == "Revenue, last 30 days"
    assert rows[2] == ["Revenue, last 30 days", "1048.19"]
    assert rows[3] == ["Paid orders, last 30 days", "1"]
    assert ["'=大课", "1", "1048.19"] in rows  # a name never runs as a formula
    days = rows[rows.index(["Day", "Paid orders", "Revenue"]) + 1 :][:30]
    busy = [r for r in days if r[1] != "0"]
    assert len(busy) == 1
    assert busy[0][1:] == ["1", "1048.19"]
