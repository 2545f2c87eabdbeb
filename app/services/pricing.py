"""The money rules (DESIGN.md, "Money") as pure functions: coupons, a quote, the spread of a
site-wide discount over lines. Decimal only, rounded half-up to the cent, never below zero."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class CouponNotApplicable(ValueError):
    """The coupon cannot be used on this amount (below its threshold)."""


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon does, detached from the database."""

    kind: str  # money_off | threshold | percent
    value: Decimal | None = None
    off_percent: int | None = None
    minimum_consume: Decimal = ZERO

    def applies_to(self, base: Decimal) -> bool:
        return self.kind == "money_off" or base >= self.minimum_consume

    def pay(self, base: Decimal) -> Decimal:
        """What is paid for `base` with this coupon."""
        if not self.applies_to(base):
            raise CouponNotApplicable(f"needs at least {self.minimum_consume}")
        if self.kind == "percent":
            paid = base * Decimal(self.off_percent) / 100
        elif self.kind in ("money_off", "threshold"):
            paid = base - (self.value or ZERO)
        else:
            raise ValueError(f"unknown coupon kind {self.kind!r}")
        return max(cents(paid), ZERO)

    def discount(self, base: Decimal) -> Decimal:
        return base - self.pay(base)


def spread(discount: Decimal, subtotals: Sequence[Decimal]) -> list[Decimal]:
    """Share `discount` over lines in proportion to their subtotals, by the largest remainder:
    each share is rounded down to the cent and the cents left over go to the lines with the
    largest fractions (the earlier line on a tie). Every share lies between 0 and its line's
    subtotal, and the shares add up to `discount` exactly."""
    total = sum(subtotals, ZERO)
    if not ZERO <= discount <= total:
        raise ValueError("a discount must lie between 0 and the total")
    if discount == ZERO:
        return [ZERO for _ in subtotals]
    exact = [discount * s / total for s in subtotals]
    shares = [e.quantize(CENT, rounding=ROUND_DOWN) for e in exact]
    left_over = int((discount - sum(shares, ZERO)) / CENT)
    by_fraction = sorted(range(len(exact)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_fraction[:left_over]:
        shares[i] += CENT
    return shares


@dataclass(frozen=True)
class LineQuote:
    price: Decimal
    coupon_discount: Decimal
    subtotal: Decimal  # after the line's own coupon
    global_discount: Decimal  # this line's share of the site-wide coupon
    paid: Decimal


@dataclass(frozen=True)
class Quote:
    lines: list[LineQuote]
    original: Decimal
    global_discount: Decimal
    amount: Decimal

    @property
    def discount(self) -> Decimal:
        return self.original - self.amount


def quote(
    lines: Sequence[tuple[Decimal, CouponTerms | None]], site_coupon: CouponTerms | None = None
) -> Quote:
    """Price lines of (policy price, course coupon or None) and an optional site-wide coupon.
    Raises CouponNotApplicable when a coupon's threshold is not met."""
    subtotals = []
    coupon_discounts = []
    for price, coupon in lines:
        subtotal = coupon.pay(price) if coupon is not None else price
        subtotals.append(subtotal)
        coupon_discounts.append(price - subtotal)
    base = sum(subtotals, ZERO)
    global_discount = site_coupon.discount(base) if site_coupon is not None else ZERO
    shares = spread(global_discount, subtotals)
    quoted = [
        LineQuote(
            price=price,
            coupon_discount=coupon_discount,
            subtotal=subtotal,
            global_discount=share,
            paid=subtotal - share,
        )
        for (price, _), coupon_discount, subtotal, share in zip(
            lines, coupon_discounts, subtotals, shares, strict=True
        )
    ]
    original = sum((price for price, _ in lines), ZERO)
    return Quote(
        lines=quoted,
        original=original,
        global_discount=global_discount,
        amount=base - global_discount,
    )
