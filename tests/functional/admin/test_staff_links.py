"""Staff follow a student from their page to their orders, coupons and access, and from an
order (or a coupon record) back to the student; the lists show only that student's rows."""

from __future__ import annotations

import re

from tests.factories import CouponRecordFactory, UserFactory
from tests.pages import html
from tests.shop_data import make_order


def links(page: str) -> dict[str, str]:
    """The user tabs' links, by their text."""
    tabs = page.split('class="nav nav-tabs flex-wrap user-tabs"', 1)[1].split("</ul>", 1)[0]
    found = re.findall(r'href="([^"]+)">([^<]+)</a>', tabs)
    return {text: href.replace("&amp;", "&") for href, text in found}


def test_a_students_page_links_to_their_orders_coupons_and_access(staff_client):
    amy, bob = UserFactory(username="amy"), UserFactory(username="bob")
    mine, theirs = make_order(amy), make_order(bob)
    my_code = CouponRecordFactory(user=amy).code
    their_code = CouponRecordFactory(user=bob).code

    tabs = links(html(staff_client.get(f"/admin/users/details/?id={amy.id}")))
    orders = html(staff_client.get(tabs["Orders"]))
    assert mine.order_no in orders
    assert theirs.order_no not in orders
    coupons = html(staff_client.get(tabs["Coupon records"]))
    assert my_code in coupons
    assert their_code not in coupons
    assert "Access of amy" in html(staff_client.get(tabs["Access"]))


def test_an_order_links_to_its_student(staff_client):
    amy = UserFactory(username="amy")
    order = make_order(amy)
    student_page = f'href="/admin/users/details/?id={amy.id}">amy</a>'
    assert student_page in html(staff_client.get("/admin/orders/"))
    assert student_page in html(staff_client.get(f"/admin/orders/details/?id={order.id}"))


def test_odd_student_filters_are_not_errors(staff_client):
    for value in ("x", "-1", "99999999999999"):
        assert staff_client.get(f"/admin/orders/?flt0_7={value}").status_code == 200
        assert staff_client.get(f"/admin/coupon-records/?flt0_2={value}").status_code == 200
