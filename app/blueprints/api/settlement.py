"""Settlement endpoints: start one (from the cart or "buy now"), read it, quote coupons."""

from __future__ import annotations

from app.blueprints.api import api
from app.blueprints.api.auth import current_api_user
from app.models.types import utcnow
from app.schemas.buying import (
    QuoteIn,
    QuoteOut,
    SettlementIn,
    SettlementOut,
    quote_dict,
    settlement_dict,
)
from app.services import settlement
from app.services.orders import OrderLineIn

TAGS = ["settlement"]


@api.route(
    "/settlement",
    "POST",
    summary="Start a settlement from the cart or from items (buy now); it lasts 30 minutes",
    tags=TAGS,
    body=SettlementIn,
    response=SettlementOut,
    auth=True,
    errors=(404, 409),
)
def start_settlement(body: SettlementIn):
    user = current_api_user()
    refs = (
        settlement.cart_lines(user.id)
        if body.from_cart
        else [line.ref() for line in body.items or []]
    )
    now = utcnow()
    shown = settlement_dict(settlement.start_settlement(user.id, refs, now), now)
    settlement.keep(user.id, shown)
    return shown


@api.route(
    "/settlement",
    summary="The current settlement",
    tags=TAGS,
    response=SettlementOut,
    auth=True,
    errors=(404,),
)
def get_settlement():
    return settlement.current_settlement(current_api_user().id)


@api.route(
    "/settlement/quote",
    "POST",
    summary="Price lines with the chosen course coupons and site-wide coupon",
    tags=TAGS,
    body=QuoteIn,
    response=QuoteOut,
    auth=True,
    errors=(404, 409),
)
def quote(body: QuoteIn):
    lines = [OrderLineIn(line.ref(), line.coupon_record_id) for line in body.items]
    priced = settlement.quote_settlement(
        current_api_user().id, lines, body.global_coupon_record_id, utcnow()
    )
    return quote_dict(priced)
