"""The money rules as properties: never negative, never above the original, half-up to the
cent, and a site-wide discount spread over lines that adds up exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.pricing import CENT, ZERO, CouponNotApplicable, CouponTerms, quote, spread

money = st.decimals(min_value=0, max_value=99_999_999, places=2, allow_nan=False)
small_money = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)
percent = st.integers(min_value=1, max_value=100)


def terms(kind, value="0", off=None, minimum="0"):
    return CouponTerms(
        kind=kind, value=Decimal(value), off_percent=off, minimum_consume=Decimal(minimum)
    )


coupons = st.one_of(
    st.builds(lambda v: CouponTerms("money_off", value=v), small_money),
    st.builds(
        lambda v, m: CouponTerms("threshold", value=v, minimum_consume=m), small_money, small_money
    ),
    st.builds(
        lambda p, m: CouponTerms("percent", off_percent=p, minimum_consume=m), percent, small_money
    ),
)


@pytest.mark.parametrize(
    ("coupon", "base", "paid"),
    [
        (terms("money_off", "30"), "199.00", "169.00"),
        (terms("money_off", "300"), "199.00", "0.00"),  # never below zero
        (terms("money_off", "10", minimum="500"), "199.00", "189.00"),  # no threshold applies
        (terms("threshold", "50", minimum="199"), "199.00", "149.00"),
        (terms("percent", off=80), "199.00", "159.20"),
        (terms("percent", off=85), "0.10", "0.09"),  # 0.085 rounds half-up to 0.09
        (terms("percent", off=15), "0.10", "0.02"),  # 0.015 -> 0.02
        (terms("percent", off=100), "12.34", "12.34"),
        (terms("percent", off=1), "0.49", "0.00"),  # 0.0049 -> 0.00
    ],
)
def test_coupon_examples(coupon, base, paid):
    assert coupon.pay(Decimal(base)) == Decimal(paid)


@pytest.mark.parametrize(
    "coupon", [terms("threshold", "50", minimum="200"), terms("percent", off=80, minimum="200")]
)
def test_a_threshold_not_met_is_refused(coupon):
    with pytest.raises(CouponNotApplicable):
        coupon.pay(Decimal("199.99"))
    assert coupon.pay(Decimal("200.00")) < Decimal("200.00")


@given(coupons, money)
def test_a_coupon_never_pays_below_zero_or_above_the_base(coupon, base):
    if not coupon.applies_to(base):
        return
    paid = coupon.pay(base)
    assert ZERO <= paid <= base
    assert paid == paid.quantize(CENT)


def test_spread_by_largest_remainder():
    # 10.00 over 3 equal lines: 3.33 each and the last cent to the first line (a tie).
    assert spread(Decimal("10.00"), [Decimal("5.00")] * 3) == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    # 1.00 over 0.01 / 0.02 / 99.97: proportional shares, fractions decide the leftover cents.
    assert spread(Decimal("1.00"), [Decimal("0.01"), Decimal("0.02"), Decimal("99.97")]) == [
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("1.00"),
    ]
    assert spread(Decimal("0.00"), [Decimal("0.00")]) == [Decimal("0.00")]


@given(st.lists(money, min_size=1, max_size=12), st.data())
def test_spread_shares_lie_in_their_lines_and_add_up(subtotals, data):
    total = sum(subtotals, ZERO)
    discount = data.draw(st.decimals(min_value=0, max_value=total, places=2))
    shares = spread(discount, subtotals)
    assert sum(shares, ZERO) == discount
    for share, subtotal in zip(shares, subtotals, strict=True):
        assert ZERO <= share <= subtotal
        assert share == share.quantize(CENT)


def test_spread_refuses_a_discount_beyond_the_total():
    with pytest.raises(ValueError, match="between"):
        spread(Decimal("2.00"), [Decimal("1.00")])


def test_a_quote_example():
    q = quote(
        [
            (Decimal("199.00"), terms("money_off", "20")),
            (Decimal("99.00"), terms("percent", off=50)),
            (Decimal("10.00"), None),
        ],
        terms("threshold", "30", minimum="200"),
    )
    assert [line.subtotal for line in q.lines] == [
        Decimal("179.00"),
        Decimal("49.50"),
        Decimal("10.00"),
    ]
    assert q.original == Decimal("308.00")
    assert q.global_discount == Decimal("30.00")
    assert q.amount == Decimal("208.50")
    assert sum(line.global_discount for line in q.lines) == Decimal("30.00")
    assert sum(line.paid for line in q.lines) == q.amount
    assert q.discount == Decimal("99.50")


def test_the_site_coupon_threshold_applies_to_the_sum_after_course_coupons():
    lines = [(Decimal("199.00"), terms("money_off", "20"))]  # 179.00 after the course coupon
    with pytest.raises(CouponNotApplicable):
        quote(lines, terms("threshold", "30", minimum="180"))


@given(
    st.lists(st.tuples(money, st.one_of(st.none(), coupons)), min_size=1, max_size=8),
    st.one_of(st.none(), coupons),
)
def test_any_quote_is_consistent(lines, site_coupon):
    try:
        q = quote(lines, site_coupon)
    except CouponNotApplicable:
        return
    assert ZERO <= q.amount <= q.original
    assert q.amount == sum((line.paid for line in q.lines), ZERO)
    for line in q.lines:
        assert ZERO <= line.paid <= line.subtotal <= line.price
        assert line.price - line.coupon_discount - line.global_discount == line.paid
        for value in (line.paid, line.subtotal, line.global_discount, line.coupon_discount):
            assert value == value.quantize(CENT)
