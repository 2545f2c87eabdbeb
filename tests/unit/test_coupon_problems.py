"""What a coupon must be (`coupon_rules.coupon_problems`): the rules staff forms show by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services import coupon_rules

START = datetime(2026, 3, 1, tzinfo=UTC)


def problems(**changes) -> dict[str, str]:
    values = {
        "kind": "money_off",
        "value": Decimal("10.00"),
        "off_percent": None,
        "minimum_consume": Decimal("0.00"),
        "quantity": None,
        "claim_start": START,
        "claim_end": START + timedelta(days=30),
        "valid_from": None,
        "valid_until": None,
        "valid_days": 30,
    }
    values.update(changes)
    return coupon_rules.coupon_problems(**values)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"kind": "threshold", "minimum_consume": Decimal("100.00")},
        {"kind": "percent", "value": None, "off_percent": 1},
        {"kind": "percent", "value": None, "off_percent": 100},
        {"kind": "percent", "value": None, "off_percent": 80, "minimum_consume": Decimal("50")},
        {"quantity": 0},
        {"quantity": 5, "claimed": 5},
        {"valid_days": None},
        {"valid_days": None, "valid_from": START, "valid_until": START + timedelta(days=1)},
        {"valid_days": None, "valid_until": START + timedelta(seconds=1)},
        {"valid_days": 3650},
        {"value": coupon_rules.VALUE_MAX},
    ],
)
def test_a_sound_coupon_has_no_problem(changes):
    claimed = changes.pop("claimed", 0)
    assert problems(**changes, claimed=claimed) == {}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "gift"}, "kind", coupon_rules.KIND_UNKNOWN),
        (
            {"kind": "percent", "value": None, "off_percent": 0},
            "off_percent",
            coupon_rules.PERCENT_RANGE,
        ),
        (
            {"kind": "percent", "value": None, "off_percent": 101},
            "off_percent",
            coupon_rules.PERCENT_RANGE,
        ),
        ({"kind": "percent", "value": None}, "off_percent", coupon_rules.PERCENT_MISSING),
        ({"kind": "percent", "off_percent": 50}, "value", coupon_rules.VALUE_NOT_FOR_PERCENT),
        ({"off_percent": 50}, "off_percent", coupon_rules.PERCENT_NOT_FOR_MONEY),
        ({"value": None}, "value", coupon_rules.VALUE_MISSING),
        ({"value": Decimal("-0.01")}, "value", coupon_rules.NOT_NEGATIVE),
        ({"value": Decimal("0")}, "value", coupon_rules.MORE_THAN_ZERO),
        ({"value": Decimal("NaN")}, "value", coupon_rules.NOT_A_NUMBER),
        ({"value": Decimal("Infinity")}, "value", coupon_rules.NOT_A_NUMBER),
        ({"value": Decimal("100000000.00")}, "value", coupon_rules.TOO_LARGE),
        ({"minimum_consume": Decimal("-1")}, "minimum_consume", coupon_rules.NOT_NEGATIVE),
        (
            {"minimum_consume": Decimal("5")},
            "minimum_consume",
            coupon_rules.NO_THRESHOLD_FOR_MONEY_OFF,
        ),
        ({"kind": "threshold"}, "minimum_consume", coupon_rules.THRESHOLD_MISSING),
        ({"quantity": -1}, "quantity", coupon_rules.NOT_NEGATIVE),
        ({"quantity": coupon_rules.QUANTITY_MAX + 1}, "quantity", coupon_rules.TOO_LARGE),
        ({"quantity": 4, "claimed": 5}, "quantity", coupon_rules.BELOW_CLAIMED),
        ({"claim_start": None}, "claim_start", coupon_rules.REQUIRED),
        ({"claim_end": START}, "claim_end", coupon_rules.END_BEFORE_START),
        ({"claim_end": START - timedelta(days=1)}, "claim_end", coupon_rules.END_BEFORE_START),
        ({"valid_days": 0}, "valid_days", coupon_rules.VALID_DAYS_RANGE),
        ({"valid_days": 3651}, "valid_days", coupon_rules.VALID_DAYS_RANGE),
        ({"valid_until": START + timedelta(days=9)}, "valid_days", coupon_rules.WINDOW_AND_DAYS),
        (
            {"valid_days": None, "valid_from": START, "valid_until": START},
            "valid_until",
            coupon_rules.END_BEFORE_START,
        ),
        (
            {"valid_days": None, "valid_until": START},
            "valid_until",
            coupon_rules.ENDS_BEFORE_CLAIMING,
        ),
    ],
)
def test_each_problem_is_named_on_its_field(changes, field, message):
    claimed = changes.pop("claimed", 0)
    assert problems(**changes, claimed=claimed).get(field) == message


def test_the_days_range_states_the_limit():
    # A msgid is fixed text: the message spells out VALID_DAYS_MAX (their Chinese is checked with
    # every other service message in tests/unit/test_service_messages.py).
    assert f"Must be from 1 to {coupon_rules.VALID_DAYS_MAX}." == coupon_rules.VALID_DAYS_RANGE
