"""Schemas of the coupon centre: the status filter and what claiming and listing answer, and
the one place coupons and records are shaped, for the API and the pages alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from app.models import Coupon, CouponRecord
from app.models.types import utcnow
from app.money import amount_text
from app.schemas.base import Schema

# The coupon and record shapes are shared with settlement, which declared them first: one
# definition, so that the OpenAPI document names each shape once.
from app.schemas.buying import CouponOut, CouponProductOut, CouponRecordOut
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


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def coupon_dict(coupon: Coupon) -> dict[str, Any]:
    product = coupon.product
    return {
        "id": coupon.id,
        "name": coupon.name,
        "kind": coupon.kind,
        "value": None if coupon.value is None else amount_text(coupon.value),
        "off_percent": coupon.off_percent,
        "minimum_consume": amount_text(coupon.minimum_consume),
        "product": None
        if product is None
        else {"item_type": product.item_type, "item_id": product.id, "name": product.name},
    }


def record_dict(record: CouponRecord, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "code": record.code,
        "status": str(record.status_at(now or utcnow())),
        "coupon": coupon_dict(record.coupon),
        "valid_from": iso(record.valid_from),
        "valid_until": iso(record.valid_until),
        "order_no": record.order.order_no if record.order is not None else None,
    }


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
]
