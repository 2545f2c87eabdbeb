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


@dataclass(frozen=True)
class BestChoice:
    """The coupons that make the total lowest: for each line the index of its coupon in the
    options given (None: no coupon), the index of the site-wide coupon (or None), and the quote."""

    line_coupons: list[int | None]
    site_coupon: int | None
    quote: Quote


def best_coupons(
    lines: Sequence[tuple[Decimal, Sequence[CouponTerms]]],
    site_coupons: Sequence[CouponTerms] = (),
) -> BestChoice:
    """Search every combination exactly (a course coupon or none per line, one site-wide coupon
    or none) for the lowest amount; on a tie, the fewest coupons (keep the rest for later), then
    the earlier options.

    What a site-wide coupon makes of a base never decreases as the base grows (each kind is
    monotone, rounding too), so for each site-wide coupon only the distinct sums the lines can
    reach matter, not which coupons reached them: the search keeps, for every reachable sum of
    line subtotals, the way to it with the fewest coupons, then tries every site-wide coupon
    on every sum. Exact, in Decimal; as many states as there are distinct sums."""
    # sum of subtotals -> (coupons used, choice per line so far)
    reachable: dict[Decimal, tuple[int, tuple[int | None, ...]]] = {ZERO: (0, ())}
    for price, coupons in lines:
        options: list[tuple[int | None, Decimal]] = [(None, price)]
        options += [(j, c.pay(price)) for j, c in enumerate(coupons) if c.applies_to(price)]
        grown: dict[Decimal, tuple[int, tuple[int | None, ...]]] = {}
        for total, (used, picks) in reachable.items():
            for j, subtotal in options:
                candidate = (used + (j is not None), (*picks, j))
                key = total + subtotal
                if key not in grown or candidate[0] < grown[key][0]:
                    grown[key] = candidate
        reachable = grown

    best: tuple[Decimal, int, int, tuple[int | None, ...], int | None] | None = None
    site_options: list[tuple[int | None, CouponTerms | None]] = [(None, None)]
    site_options += list(enumerate(site_coupons))
    for base in sorted(reachable):
        used, picks = reachable[base]
        for g, site in site_options:
            if site is not None and not site.applies_to(base):
                continue
            amount = site.pay(base) if site is not None else base
            rank = (amount, used + (g is not None), 0 if g is None else 1 + g, picks, g)
            if best is None or rank[:3] < best[:3]:
                best = rank
    if best is None:  # pragma: no cover - the sum without any coupon is always reachable
        raise ValueError("no combination")
    _, _, _, picks, g = best
    chosen_lines = [
        (price, coupons[j] if j is not None else None)
        for (price, coupons), j in zip(lines, picks, strict=True)
    ]
    return BestChoice(
        line_coupons=list(picks),
        site_coupon=g,
        quote=quote(chosen_lines, site_coupons[g] if g is not None else None),
    )
