"""Coupon endpoints: what may be claimed now, claiming one, and one's own records."""

from __future__ import annotations

from flask import request

from app import unit_of_work
from app.blueprints.api import api
from app.blueprints.api.auth import current_api_user
from app.models.types import utcnow
from app.schemas.coupons import (
    AvailableCouponOut,
    CouponRecordOut,
    MineQuery,
    available_dict,
    record_dict,
)
from app.services import coupons

TAGS = ["coupons"]


@api.route(
    "/coupons/available",
    summary="Coupons claimable now, minus those the signed-in user holds (login optional)",
    tags=TAGS,
    response=list[AvailableCouponOut],
    errors=(401,),
)
def available_coupons():
    # Anonymous without the header; with it, the token must be good (a bad one is a 401).
    user = current_api_user() if request.headers.get("Authorization") else None
    return [available_dict(c) for c in coupons.claimable_coupons(user, utcnow())]


@api.route(
    "/coupons/<int:coupon_id>/claim",
    "POST",
    summary="Claim a coupon: one per student, never more than its quantity",
    tags=TAGS,
    response=CouponRecordOut,
    status=201,
    auth=True,
    errors=(404, 409),
)
def claim_coupon(coupon_id: int):
    user, now = current_api_user(), utcnow()
    return unit_of_work.run(
        lambda: record_dict(coupons.claim_coupon(user, coupon_id, now), now),
        busy=coupons.busy_claiming,
    )


@api.route(
    "/coupons/mine",
    summary="The signed-in user's coupon records, all or of one status",
    tags=TAGS,
    query=MineQuery,
    response=list[CouponRecordOut],
    auth=True,
)
def my_coupons(query: MineQuery):
    now = utcnow()
    records = coupons.my_coupon_records(current_api_user(), query.status, now)
    return [record_dict(r, now) for r in records]
