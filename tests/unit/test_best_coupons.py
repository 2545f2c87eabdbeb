"""The coupon combination that makes the total lowest: checked against trying every combination."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.pricing import CouponNotApplicable, CouponTerms, best_coupons, quote
from tests.unit.test_pricing import coupons, small_money, terms


def every_amount(lines, site_coupons):
    """The lowest amount by brute force over every combination, or None."""
    found = []
    per_line = [[None, *range(len(options))] for _, options in lines]
    for picks in itertools.product(*per_line):
        for g in [None, *range(len(site_coupons))]:
            chosen = [
                (price, options[j] if j is not None else None)
                for (price, options), j in zip(lines, picks, strict=True)
            ]
            try:
                found.append(quote(chosen, site_coupons[g] if g is not None else None).amount)
            except CouponNotApplicable:
                continue
    return min(found)


def test_a_weaker_course_coupon_that_keeps_the_site_coupon_usable_wins():
    # 200 with the 50-off course coupon is 150: below the site coupon's 180 threshold (-60).
    # The 10-off course coupon keeps 190: 190 - 60 = 130, lower than 150.
    lines = [(Decimal("200.00"), [terms("money_off", "50"), terms("money_off", "10")])]
    site = [terms("threshold", "60", minimum="180")]
    best = best_coupons(lines, site)
    assert best.line_coupons == [1]
    assert best.site_coupon == 0
    assert best.quote.amount == Decimal("130.00")


def test_no_coupon_is_spent_where_it_saves_nothing():
    lines = [(Decimal("0.00"), [terms("money_off", "5")]), (Decimal("99.00"), [])]
    best = best_coupons(lines, [terms("money_off", "0")])
    assert best.line_coupons == [None, None]
    assert best.site_coupon is None
    assert best.quote.amount == Decimal("99.00")


def test_the_percent_site_coupon_against_money_off():
    lines = [(Decimal("100.00"), [terms("percent", off=50)]), (Decimal("300.00"), [])]
    site = [terms("money_off", "30"), terms("percent", off=80, minimum="300")]
    best = best_coupons(lines, site)
    # 50 + 300 = 350 -> 80% = 280.00; 350 - 30 = 320; without the course coupon 400*0.8 = 320.
    assert (best.line_coupons, best.site_coupon) == ([0, None], 1)
    assert best.quote.amount == Decimal("280.00")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(small_money, st.lists(coupons, max_size=2)),
        min_size=1,
        max_size=3,
    ),
    st.lists(coupons, max_size=3),
)
def test_the_search_finds_the_lowest_amount_of_every_combination(lines, site_coupons):
    best = best_coupons(lines, site_coupons)
    assert best.quote.amount == every_amount(lines, site_coupons)
    chosen = [
        (price, options[j] if j is not None else None)
        for (price, options), j in zip(lines, best.line_coupons, strict=True)
    ]
    site = site_coupons[best.site_coupon] if best.site_coupon is not None else None
    assert quote(chosen, site) == best.quote


def test_it_takes_coupon_terms_as_the_shop_has_them():
    best = best_coupons([(Decimal("10.00"), [CouponTerms("money_off", value=Decimal("3"))])])
    assert best.quote.amount == Decimal("7.00")
