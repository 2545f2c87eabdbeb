"""Schemas of the coupon centre: the status filter and what claiming and listing answer, and
the coupon centre's shapes, for the API and the pages alike (a coupon's and a record's own
shapes are in app/schemas/buying.py, which settlement shares)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from app.models import Coupon
from app.schemas.base import Schema

# The coupon and record shapes are shared with settlement, which declared them first: one
# definition, so that the OpenAPI document names each shape once (and one way to make them).
from app.schemas.buying import (
    CouponOut,
    CouponProductOut,
    CouponRecordOut,
    coupon_dict,
    iso,
    record_dict,
)
from app.services.coupons import remaining

StatusName = Literal["unused", "reserved", "used", "expired"]


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class MineQuery(Schema):
    status: Annotated[StatusName | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="absent: every record; `expired` is an unused record past its window"
    )


class AvailableCouponOut(CouponOut):
    remaining: int | None = Field(description="how many may still be claimed; null: unlimited")


# --- shapes -----------------------------------------------------------------------------------


def coupon_card(coupon: Coupon) -> dict[str, Any]:
    """What the coupon centre page shows of a claimable coupon: the API's shape and more."""
    return {
        **coupon_dict(coupon),
        "remaining": remaining(coupon),
        "brief": coupon.brief,
        "valid_days": coupon.valid_days,
        "use_from": iso(coupon.valid_from),
        "use_until": iso(coupon.valid_until),
        "claim_end": iso(coupon.claim_end),
    }


def available_dict(coupon: Coupon) -> dict[str, Any]:
    """`GET /coupons/available`: a claimable coupon and what is `remaining` of it."""
    return {**coupon_dict(coupon), "remaining": remaining(coupon)}


__all__ = [
    "AvailableCouponOut",
    "CouponOut",
    "CouponProductOut",
    "CouponRecordOut",
    "MineQuery",
    "StatusName",
    "available_dict",
    "coupon_card",
    "coupon_dict",
    "record_dict",
]
