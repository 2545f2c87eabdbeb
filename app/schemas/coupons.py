"""Schemas of the coupon centre: the status filter and what claiming and listing answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from app.schemas.base import Schema

# The coupon and record shapes are shared with settlement, which declared them first: one
# definition, so that the OpenAPI document names each shape once.
from app.schemas.buying import CouponOut, CouponProductOut, CouponRecordOut

StatusName = Literal["unused", "reserved", "used", "expired"]


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class MineQuery(Schema):
    status: Annotated[StatusName | None, BeforeValidator(_blank_is_none)] = Field(
        None, description="absent: every record; `expired` is an unused record past its window"
    )


class AvailableCouponOut(CouponOut):
    remaining: int | None = Field(description="how many may still be claimed; null: unlimited")


__all__ = [
    "AvailableCouponOut",
    "CouponOut",
    "CouponProductOut",
    "CouponRecordOut",
    "MineQuery",
    "StatusName",
]
