"""What a coupon must be to be saved: the one statement of it, by field, for staff's forms."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.models import CouponKind
from app.services.errors import N_

ZERO = Decimal("0.00")
VALUE_MAX = Decimal("99999999.99")  # NUMERIC(10,2)
QUANTITY_MAX = 1_000_000_000
VALID_DAYS_MAX = 3650

KIND_UNKNOWN = N_("Choose one of the three kinds.")
REQUIRED = N_("Required.")
NOT_A_NUMBER = N_("Not a number.")
MORE_THAN_ZERO = N_("Must be more than 0.")
NOT_NEGATIVE = N_("Must be 0 or more.")
TOO_LARGE = N_("Too large.")
VALUE_MISSING = N_("A money-off or threshold coupon needs an amount off.")
VALUE_NOT_FOR_PERCENT = N_("A percent coupon has no amount off; leave it empty.")
PERCENT_MISSING = N_("A percent coupon needs the percent paid (80 = pay 80%).")
PERCENT_RANGE = N_("Must be from 1 to 100 (80 = pay 80%).")
PERCENT_NOT_FOR_MONEY = N_("Only a percent coupon has a percent; leave it empty.")
THRESHOLD_MISSING = N_("A threshold coupon needs a minimum spend above 0.")
NO_THRESHOLD_FOR_MONEY_OFF = N_("A money-off coupon has no minimum spend; leave it at 0.")
END_BEFORE_START = N_("Must be after the start.")
ENDS_BEFORE_CLAIMING = N_("The use window ends before claiming starts.")
WINDOW_AND_DAYS = N_("Either fixed use dates or a number of days after claiming, not both.")
VALID_DAYS_RANGE = N_("Must be from 1 to 3650.")  # VALID_DAYS_MAX, spelt out (a fixed msgid)
BELOW_CLAIMED = N_("Less than the number already claimed.")

MESSAGES = (
    KIND_UNKNOWN,
    REQUIRED,
    NOT_A_NUMBER,
    MORE_THAN_ZERO,
    NOT_NEGATIVE,
    TOO_LARGE,
    VALUE_MISSING,
    VALUE_NOT_FOR_PERCENT,
    PERCENT_MISSING,
    PERCENT_RANGE,
    PERCENT_NOT_FOR_MONEY,
    THRESHOLD_MISSING,
    NO_THRESHOLD_FOR_MONEY_OFF,
    END_BEFORE_START,
    ENDS_BEFORE_CLAIMING,
    WINDOW_AND_DAYS,
    VALID_DAYS_RANGE,
    BELOW_CLAIMED,
)


def _amount_problem(amount: Decimal) -> str | None:
    if not amount.is_finite():  # Decimal("NaN") parses, and then refuses to be compared
        return NOT_A_NUMBER
    if amount < 0:
        return NOT_NEGATIVE
    if amount > VALUE_MAX:
        return TOO_LARGE
    return None


def coupon_problems(
    *,
    kind: str | None,
    value: Decimal | None,
    off_percent: int | None,
    minimum_consume: Decimal | None,
    quantity: int | None,
    claim_start: datetime | None,
    claim_end: datetime | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    valid_days: int | None,
    claimed: int = 0,
) -> dict[str, str]:
    """What is wrong with a coupon made of these values, by field (nothing: it may be saved).

    The one statement of what a coupon must be, beyond the database's CHECKs (which it
    implies): the amounts a kind needs and only those, a percent from 1 to 100, no negative
    amounts, windows that end after they start, fixed use dates or days after claiming but not
    both, and never a quantity below what has been claimed already.
    """
    problems: dict[str, str] = {}
    money_kind = kind in (CouponKind.MONEY_OFF, CouponKind.THRESHOLD)
    if kind not in tuple(CouponKind):
        problems["kind"] = KIND_UNKNOWN

    if value is None:
        if money_kind:
            problems["value"] = VALUE_MISSING
    elif kind == CouponKind.PERCENT:
        problems["value"] = VALUE_NOT_FOR_PERCENT
    elif problem := _amount_problem(value):
        problems["value"] = problem
    elif value == 0:
        problems["value"] = MORE_THAN_ZERO

    if off_percent is None:
        if kind == CouponKind.PERCENT:
            problems["off_percent"] = PERCENT_MISSING
    elif money_kind:
        problems["off_percent"] = PERCENT_NOT_FOR_MONEY
    elif not 1 <= off_percent <= 100:
        problems["off_percent"] = PERCENT_RANGE

    minimum = minimum_consume if minimum_consume is not None else ZERO
    if problem := _amount_problem(minimum):
        problems["minimum_consume"] = problem
    elif kind == CouponKind.THRESHOLD and minimum == 0:
        problems["minimum_consume"] = THRESHOLD_MISSING
    elif kind == CouponKind.MONEY_OFF and minimum != 0:
        problems["minimum_consume"] = NO_THRESHOLD_FOR_MONEY_OFF

    if quantity is not None and quantity < 0:
        problems["quantity"] = NOT_NEGATIVE
    elif quantity is not None and quantity > QUANTITY_MAX:
        problems["quantity"] = TOO_LARGE
    elif quantity is not None and quantity < claimed:
        problems["quantity"] = BELOW_CLAIMED

    if claim_start is None:
        problems["claim_start"] = REQUIRED
    if claim_end is None:
        problems["claim_end"] = REQUIRED
    elif claim_start is not None and claim_end <= claim_start:
        problems["claim_end"] = END_BEFORE_START

    if valid_days is not None and not 1 <= valid_days <= VALID_DAYS_MAX:
        problems["valid_days"] = VALID_DAYS_RANGE
    elif valid_days is not None and (valid_from is not None or valid_until is not None):
        problems["valid_days"] = WINDOW_AND_DAYS
    if valid_until is not None and valid_from is not None and valid_until <= valid_from:
        problems["valid_until"] = END_BEFORE_START
    elif valid_until is not None and claim_start is not None and valid_until <= claim_start:
        problems["valid_until"] = ENDS_BEFORE_CLAIMING
    return problems
