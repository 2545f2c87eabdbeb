"""Order endpoints: place (idempotently), read, cancel, ask for a refund and withdraw it; and what
one may study."""

from __future__ import annotations

from decimal import Decimal

from flask import current_app, request

from app import unit_of_work
from app.blueprints.api import api
from app.blueprints.api.auth import current_api_user
from app.blueprints.api.envelope import ok_response
from app.models import OrderStatus
from app.models.types import utcnow
from app.schemas.base import page_dict
from app.schemas.buying import (
    EnrollmentOut,
    OrderIn,
    OrderOut,
    OrderPageOut,
    RefundIn,
    enrollment_dict,
    order_dict,
)
from app.schemas.catalog import PageQuery
from app.services import cart, enrollment, orders, refunds
from app.services.errors import InvalidInput
from app.services.payments.alipay import check_method, pay_url_for

TAGS = ["orders"]


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not orders.IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(fields={"Idempotency-Key": "1–64 printable ASCII characters."})
    return key


def order_out(order) -> dict:
    return order_dict(order, pay_url_for(current_app, order, request.host_url))


@api.route(
    "/orders",
    "POST",
    summary="Place an order: everything is checked and priced again; the same Idempotency-Key "
    "answers the same order",
    tags=TAGS,
    body=OrderIn,
    response=OrderOut,
    status=201,
    auth=True,
    errors=(404, 409),
)
def place_order(body: OrderIn):
    user = current_api_user()
    key = _idempotency_key()
    if key and (first := orders.find_by_idempotency_key(user.id, key)):
        return ok_response(order_out(first))
    check_method(current_app, body.payment_method)
    lines = [orders.OrderLineIn(line.ref(), line.coupon_record_id) for line in body.items]

    def work() -> dict:
        order = orders.place_order(
            user.id,
            lines,
            body.global_coupon_record_id,
            Decimal(body.expected_amount),
            body.payment_method,
            utcnow(),
            idempotency_key=key,
        )
        if order.status == OrderStatus.PAID:  # an order of amount 0: paid at once
            cart.forget_bought(order)
        return order_out(order)

    try:
        return unit_of_work.run(work, busy=orders.busy_coupons)
    except orders.DuplicateSubmission:
        # a double click that lost the race: answer the first order
        return ok_response(order_out(orders.find_by_idempotency_key(user.id, key)))


@api.route(
    "/orders",
    summary="My orders, newest first",
    tags=TAGS,
    query=PageQuery,
    response=OrderPageOut,
    auth=True,
)
def list_orders(query: PageQuery):
    user_id = current_api_user().id

    def work() -> dict:  # pending orders past their time are expired on the way
        return page_dict(
            orders.list_orders(user_id, query.page, query.per_page, utcnow()), order_out
        )

    return unit_of_work.run(work)


@api.route(
    "/orders/<order_no>",
    summary="One of my orders",
    tags=TAGS,
    response=OrderOut,
    auth=True,
    errors=(404,),
)
def get_order(order_no: str):
    user_id = current_api_user().id
    # a pending order past its time is expired on the way
    return unit_of_work.run(lambda: order_out(orders.get_order(user_id, order_no, utcnow())))


@api.route(
    "/orders/<order_no>/cancel",
    "POST",
    summary="Cancel a pending order; its coupons are unused again",
    tags=TAGS,
    response=OrderOut,
    auth=True,
    errors=(404, 409),
)
def cancel_order(order_no: str):
    user_id = current_api_user().id
    return unit_of_work.run(lambda: order_out(orders.cancel_order(user_id, order_no, utcnow())))


@api.route(
    "/orders/<order_no>/refund",
    "POST",
    summary="Ask for a refund of a paid order inside the refund window",
    tags=TAGS,
    body=RefundIn,
    response=OrderOut,
    auth=True,
    errors=(404, 409),
)
def request_refund(order_no: str, body: RefundIn):
    user_id = current_api_user().id
    return unit_of_work.run(
        lambda: order_out(orders.request_refund(user_id, order_no, body.reason, utcnow()))
    )


@api.route(
    "/orders/<order_no>/refund/withdraw",
    "POST",
    summary="Take back my refund request: the order is paid again",
    tags=TAGS,
    response=OrderOut,
    auth=True,
    errors=(404, 409),
)
def withdraw_refund(order_no: str):
    user_id = current_api_user().id
    return unit_of_work.run(lambda: order_out(refunds.withdraw_refund(user_id, order_no, utcnow())))


@api.route(
    "/my/courses",
    summary="What I may study, and until when",
    tags=TAGS,
    response=list[EnrollmentOut],
    auth=True,
)
def my_courses():
    now = utcnow()
    return [enrollment_dict(h, now) for h in enrollment.my_enrollments(current_api_user().id)]
