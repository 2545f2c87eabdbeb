"""Settlement: the lines a student is about to pay for, the coupons usable on each, and a live
quote as coupons are picked. Kept in Redis for 30 minutes; every quote re-checks the database."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Coupon, CouponRecord
from app.services import pricing
from app.services.cart import RedisCart, parse_key
from app.services.errors import N_, InvalidInput, NotFound
from app.services.offers import LineRef, Offer, check_offers
from app.services.orders import OrderLineIn, PricedOrder, price_order, terms_of

SETTLEMENT_LIFETIME = timedelta(minutes=30)


def _key(user_id: int) -> str:
    return f"settlement:{user_id}"


def cart_lines(user_id: int) -> list[LineRef]:
    """The student's cart as settlement lines; an empty cart is a 400."""
    refs = []
    for key, policy_id in sorted(RedisCart(user_id).lines().items()):
        if (parsed := parse_key(key)) is not None:
            refs.append(LineRef(parsed[0], parsed[1], policy_id))
    if not refs:
        raise InvalidInput(
            N_("Your cart is empty."), fields={"from_cart": N_("The cart is empty.")}
        )
    return refs


def usable_records(user_id: int, now: datetime) -> list[CouponRecord]:
    """The student's unused records inside their use window, with their coupons."""
    return list(
        db.session.scalars(
            select(CouponRecord)
            .join(Coupon, CouponRecord.coupon_id == Coupon.id)
            .where(
                CouponRecord.user_id == user_id,
                CouponRecord.usable_at(now),
            )
            .options(selectinload(CouponRecord.coupon).selectinload(Coupon.product))
            .order_by(CouponRecord.id)
        )
    )


@dataclass(frozen=True)
class SettlementLine:
    """A checked line and the student's coupons usable on it."""

    offer: Offer
    coupons: list[CouponRecord]


@dataclass(frozen=True)
class Settlement:
    lines: list[SettlementLine]
    # Site-wide coupons whose threshold the lines reach before any course coupon; the quote
    # checks the threshold again against what is left after the course coupons.
    global_coupons: list[CouponRecord]
    total: Decimal


def start_settlement(user_id: int, refs: Sequence[LineRef], now: datetime) -> Settlement:
    """Check the lines and find the coupons usable on each. The view keeps what it shows of it
    (`keep`) for the 30 minutes the student has to pay."""
    offers = check_offers(user_id, refs)
    records = usable_records(user_id, now)
    total = sum((offer.policy.price for offer in offers), Decimal("0.00"))
    lines = [
        SettlementLine(
            offer,
            [
                r
                for r in records
                if r.coupon.product_id == offer.product.id
                and terms_of(r).applies_to(offer.policy.price)
            ],
        )
        for offer in offers
    ]
    site = [r for r in records if r.coupon.product_id is None and terms_of(r).applies_to(total)]
    return Settlement(lines, site, total)


def keep(user_id: int, shown: dict[str, Any]) -> None:
    """Keep the settlement as the student was shown it (app/schemas/buying.settlement_dict) for
    30 minutes: what `GET /settlement`, the page, the quote and the order read back."""
    client = current_app.extensions["redis_store"].client
    client.set(_key(user_id), json.dumps(shown), ex=int(SETTLEMENT_LIFETIME.total_seconds()))


def current_settlement(user_id: int) -> dict[str, Any]:
    """The settlement kept last (`keep`); NotFound once its 30 minutes are over."""
    stored = current_app.extensions["redis_store"].client.get(_key(user_id))
    if stored is None:
        raise NotFound(N_("There is no settlement in progress (it lasts 30 minutes)."))
    return json.loads(stored)


def quote_settlement(
    user_id: int, lines: Sequence[OrderLineIn], global_record_id: int | None, now: datetime
) -> PricedOrder:
    """Price the lines with the chosen coupons exactly as an order would be priced."""
    return price_order(user_id, lines, global_record_id, now)


def best_coupons(
    user_id: int, settlement: dict[str, Any], now: datetime
) -> tuple[dict[str, int | None], int | None]:
    """The student's coupons that make the settlement's total lowest (`pricing.best_coupons`,
    an exact search): the record chosen for each line (by `item_type:item_id`) and the
    site-wide record, among those the settlement offers and still usable now."""
    usable = {record.id: record for record in usable_records(user_id, now)}

    def offered(entries: list[dict]) -> list[CouponRecord]:
        return [usable[entry["id"]] for entry in entries if entry["id"] in usable]

    line_records = [offered(item["coupons"]) for item in settlement["items"]]
    site_records = offered(settlement["global_coupons"])
    best = pricing.best_coupons(
        [
            (Decimal(item["price"]), [terms_of(r) for r in records])
            for item, records in zip(settlement["items"], line_records, strict=True)
        ],
        [terms_of(r) for r in site_records],
    )
    chosen = {
        f"{item['item_type']}:{item['item_id']}": records[j].id if j is not None else None
        for item, records, j in zip(
            settlement["items"], line_records, best.line_coupons, strict=True
        )
    }
    site = site_records[best.site_coupon].id if best.site_coupon is not None else None
    return chosen, site
