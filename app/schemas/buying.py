"""Schemas of buying: cart lines, settlement, quotes and orders; and the one place the cart,
settlements, quotes, orders and enrollments are shaped, for the API and the pages alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from app.models import Coupon, CouponRecord, Order, OrderStatus
from app.models.types import utcnow
from app.money import amount_text
from app.schemas.base import Out, Schema
from app.schemas.catalog import MoneyStr, PricePolicyOut, policy_dict
from app.services.cart import CartContents
from app.services.enrollment import Holding
from app.services.offers import MAX_LINES, LineRef, Offer
from app.services.orders import PricedOrder
from app.services.settlement import Settlement


def _integral(value: object) -> object:
    """JSON's 12.0 is the integer 12 (as JSON Schema counts it); "12" and true stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Id = Annotated[StrictInt, Field(ge=1, le=2**31 - 1), BeforeValidator(_integral)]
ItemType = Literal["course", "degree_course"]


class CartLineIn(Schema):
    item_type: ItemType
    item_id: Id
    price_policy_id: Id

    def ref(self) -> LineRef:
        return LineRef(self.item_type, self.item_id, self.price_policy_id)


class CartPolicyIn(Schema):
    price_policy_id: Id


class CartLineOut(Out):
    item_type: ItemType
    item_id: int
    name: str
    course_img: str
    price_policies: list[PricePolicyOut]
    price_policy_id: int
    price: MoneyStr
    retired: bool = Field(
        False,
        description="the chosen period is no longer sold: choose one of `price_policies` "
        "(the line is kept, and left out of `total_price`)",
    )
    retired_policy: PricePolicyOut | None = Field(None, description="the period no longer sold")


class CartOut(Out):
    items: list[CartLineOut]
    total_price: MoneyStr
    count: int


class SettlementIn(Schema):
    # Either `items` or `from_cart: true`, as the document says too.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["items"],
                    "properties": {
                        "items": {"type": "array", "minItems": 1},
                        "from_cart": {"not": {"const": True}},
                    },
                },
                {
                    "required": ["from_cart"],
                    "properties": {"from_cart": {"const": True}, "items": {"type": "null"}},
                },
            ]
        }
    )

    items: list[CartLineIn] | None = Field(None, max_length=MAX_LINES)
    from_cart: StrictBool | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SettlementIn:
        if (self.items is None) == (not self.from_cart):
            raise ValueError("Send either `items` or `from_cart: true`, not both or neither.")
        return self


class QuoteLineIn(CartLineIn):
    coupon_record_id: Id | None = None


class QuoteIn(Schema):
    items: list[QuoteLineIn] = Field(min_length=1, max_length=MAX_LINES)
    global_coupon_record_id: Id | None = None


class OrderIn(QuoteIn):
    expected_amount: Annotated[StrictStr, Field(pattern=r"^\d{1,8}(\.\d{1,2})?$")]
    payment_method: Literal["alipay", "sandbox"]


class CouponProductOut(Out):
    item_type: ItemType
    item_id: int
    name: str


class CouponOut(Out):
    id: int
    name: str
    kind: Literal["money_off", "threshold", "percent"]
    value: MoneyStr | None
    off_percent: int | None
    minimum_consume: MoneyStr
    product: CouponProductOut | None


class CouponRecordOut(Out):
    id: int
    code: str
    status: Literal["unused", "reserved", "used", "expired"]
    coupon: CouponOut
    valid_from: str
    valid_until: str | None
    order_no: str | None


class SettlementLineOut(Out):
    item_type: ItemType
    item_id: int
    name: str
    price_policy_id: int
    valid_period: int | None = Field(None, description="days; 0 = for ever")
    price: MoneyStr
    coupons: list[CouponRecordOut]


class SettlementOut(Out):
    items: list[SettlementLineOut]
    global_coupons: list[CouponRecordOut]
    total_price: MoneyStr


class QuoteLineOut(Out):
    item_type: ItemType
    item_id: int
    price: MoneyStr
    coupon_record_id: int | None
    discount: MoneyStr
    subtotal: MoneyStr


class QuoteOut(Out):
    items: list[QuoteLineOut]
    global_coupon_record_id: int | None
    global_discount: MoneyStr
    amount: MoneyStr


class OrderLineOut(Out):
    item_type: ItemType
    item_id: int
    name: str
    price_policy_id: int
    valid_period: int
    price: MoneyStr
    paid: MoneyStr


class OrderOut(Out):
    order_no: str = Field(pattern=r"^\d{20}$")
    status: Literal["pending", "paid", "cancelled", "expired", "refund_requested", "refunded"]
    payment_method: Literal["alipay", "sandbox"]
    original_amount: MoneyStr
    discount: MoneyStr
    amount: MoneyStr
    created_at: str
    paid_at: str | None
    expires_at: str
    lines: list[OrderLineOut]
    pay_url: str | None
    refund_reason: str | None
    refund_rejection: str | None = Field(
        description="Staff's reason for refusing the last refund request (the order is paid "
        "again); null otherwise."
    )


class OrderPageOut(Out):
    items: list[OrderOut]
    total: int
    page: int
    per_page: int


class RefundIn(Schema):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=500)]


class EnrollmentOut(Out):
    item_type: ItemType
    item_id: int
    name: str
    valid_from: str
    valid_until: str | None
    active: bool
    status: Literal["active", "expired", "refunded"]
    progress: int | None  # percent of sections completed (courses only)
    resume_section_id: int | None  # where to go on; null when nothing started


# --- shapes -----------------------------------------------------------------------------------


def cart_line_dict(offer: Offer, retired: bool = False) -> dict[str, Any]:
    """A cart line (`CartLineOut`); `retired`: its period is no longer sold."""
    product = offer.product
    return {
        "item_type": product.item_type,
        "item_id": product.id,
        "name": product.name,
        "course_img": product.course_img,
        "price_policies": [policy_dict(p) for p in product.current_policies],
        "price_policy_id": offer.policy.id,
        "price": amount_text(offer.policy.price),
        "retired": retired,
        "retired_policy": policy_dict(offer.policy) if retired else None,
    }


def cart_dict(contents: CartContents) -> dict[str, Any]:
    return {
        "items": [cart_line_dict(line.offer, line.retired) for line in contents.lines],
        "total_price": amount_text(contents.total),
        "count": len(contents.lines),
    }


def order_dict(order: Order, pay_url: str | None) -> dict[str, Any]:
    """An order (`OrderOut`); `pay_url` shows only while something is to be paid."""
    return {
        "order_no": order.order_no,
        "status": order.status,
        "payment_method": order.payment_method,
        "original_amount": amount_text(order.original_amount),
        "discount": amount_text(order.discount_amount),
        "amount": amount_text(order.actual_amount),
        "created_at": order.created_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "expires_at": order.expires_at.isoformat(),
        "lines": [
            {
                "item_type": line.item_type,
                "item_id": line.product_id,
                "name": line.product_name,
                "price_policy_id": line.price_policy_id,
                "valid_period": line.valid_period,
                "price": amount_text(line.original_price),
                "paid": amount_text(line.amount_paid),
            }
            for line in order.lines
        ],
        "pay_url": pay_url if order.status == OrderStatus.PENDING and order.actual_amount else None,
        "refund_reason": order.refund_reason,
        # Staff's reason for refusing the last refund request (the order is paid again); not in
        # the contract's list, documented in docs/api.md.
        "refund_rejection": order.refund_rejection,
    }


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


def settlement_dict(settlement: Settlement, now: datetime) -> dict[str, Any]:
    """A settlement as the student is shown it (`SettlementOut`), and as it is kept."""
    return {
        "items": [
            {
                "item_type": line.offer.item_type,
                "item_id": line.offer.product.id,
                "name": line.offer.product.name,
                "price_policy_id": line.offer.policy.id,
                "valid_period": line.offer.policy.valid_period,
                "price": amount_text(line.offer.policy.price),
                "coupons": [record_dict(r, now) for r in line.coupons],
            }
            for line in settlement.lines
        ],
        "global_coupons": [record_dict(r, now) for r in settlement.global_coupons],
        "total_price": amount_text(settlement.total),
    }


def quote_dict(priced: PricedOrder) -> dict[str, Any]:
    """The lines priced with the chosen coupons (`QuoteOut`)."""
    return {
        "items": [
            {
                "item_type": offer.item_type,
                "item_id": offer.product.id,
                "price": amount_text(line.price),
                "coupon_record_id": record.id if record else None,
                "discount": amount_text(line.coupon_discount),
                "subtotal": amount_text(line.subtotal),
            }
            for offer, record, line in zip(
                priced.offers, priced.line_records, priced.quote.lines, strict=True
            )
        ],
        "global_coupon_record_id": priced.global_record.id if priced.global_record else None,
        "global_discount": amount_text(priced.quote.global_discount),
        "amount": amount_text(priced.quote.amount),
    }


def enrollment_dict(holding: Holding, now: datetime) -> dict[str, Any]:
    """What a student may study, and until when (`EnrollmentOut`)."""
    enrollment, product, progress = holding.enrollment, holding.product, holding.progress
    return {
        "item_type": product.item_type,
        "item_id": product.id,
        "name": product.name,
        "valid_from": enrollment.valid_from.isoformat(),
        "valid_until": enrollment.valid_until.isoformat() if enrollment.valid_until else None,
        "active": enrollment.active_at(now),
        "status": enrollment.status_at(now),
        "progress": progress.percent if progress else None,
        "resume_section_id": progress.resume_section_id if progress else None,
    }


def enrollment_card(holding: Holding, now: datetime) -> dict[str, Any]:
    """What the student's courses page shows of an enrollment: the API's shape, the cover, the
    end as a moment and the first section."""
    progress = holding.progress
    return {
        **enrollment_dict(holding, now),
        "course_img": holding.product.course_img,
        "ends_at": holding.enrollment.valid_until,
        "first_section_id": progress.first_section_id if progress else None,
    }
