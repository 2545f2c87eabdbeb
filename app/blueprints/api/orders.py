"""Order endpoints: place (idempotently), read, cancel, ask for a refund and withdraw it; and what
one may study."""

from __future__ import annotations

import logging
from decimal import Decimal

from flask import current_app, request

from app.blueprints.api import api
from app.blueprints.api.auth import current_api_user
from app.blueprints.api.envelope import ok_response
from app.extensions import db
from app.models.types import utcnow
from app.schemas.buying import EnrollmentOut, OrderIn, OrderOut, OrderPageOut, RefundIn
from app.schemas.catalog import PageQuery
from app.services import cart, enrollment, orders, payments, refunds
from app.services.errors import Conflict, InvalidInput
from app.services.retry import retry_on_deadlock

log = logging.getLogger(__name__)

TAGS = ["orders"]


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not orders.IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(fields={"Idempotency-Key": "1–64 printable ASCII characters."})
    return key


def order_out(order) -> dict:
    return orders.order_dict(order, payments.pay_url_for(current_app, order))


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
    payments.check_method(current_app, body.payment_method)
    lines = [orders.OrderLineIn(line.ref(), line.coupon_record_id) for line in body.items]

    def attempt():
        order = orders.place_order(
            user.id,
            lines,
            body.global_coupon_record_id,
            Decimal(body.expected_amount),
            body.payment_method,
            utcnow(),
            idempotency_key=key,
        )
        # The answer is made before the commit: once committed, the order is answered as
        # placed even if the database stops answering the very next moment.
        answer = order_out(order)
        db.session.commit()
        return order, answer

    try:
        order, answer = retry_on_deadlock(attempt, busy=_busy_coupons)
    except orders.DuplicateSubmission:
        db.session.rollback()  # a double click that lost the race: answer the first order
        return ok_response(order_out(orders.find_by_idempotency_key(user.id, key)))
    if answer["status"] == "paid":  # an order of amount 0: paid at once
        try:
            cart.forget_bought(order)
        except Exception as exc:  # the order stands; the cart keeps a line the student owns
            log.warning("order %s placed, cart not updated (%s)", answer["order_no"], exc)
    return answer


@api.route(
    "/orders",
    summary="My orders, newest first",
    tags=TAGS,
    query=PageQuery,
    response=OrderPageOut,
    auth=True,
)
def list_orders(query: PageQuery):
    page = orders.list_orders(current_api_user().id, query.page, query.per_page, utcnow())
    db.session.commit()  # pending orders past their time were expired on the way
    return {
        "items": [order_out(order) for order in page.pop("orders")],
        **page,
    }


@api.route(
    "/orders/<order_no>",
    summary="One of my orders",
    tags=TAGS,
    response=OrderOut,
    auth=True,
    errors=(404,),
)
def get_order(order_no: str):
    order = orders.get_order(current_api_user().id, order_no, utcnow())
    db.session.commit()
    return order_out(order)


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
    order = retry_on_deadlock(
        lambda: _commit(orders.cancel_order(current_api_user().id, order_no, utcnow()))
    )
    return order_out(order)


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
    order = orders.request_refund(current_api_user().id, order_no, body.reason, utcnow())
    db.session.commit()
    return order_out(order)


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
    order = retry_on_deadlock(
        lambda: _commit(refunds.withdraw_refund(current_api_user().id, order_no, utcnow()))
    )
    return order_out(order)


@api.route(
    "/my/courses",
    summary="What I may study, and until when",
    tags=TAGS,
    response=list[EnrollmentOut],
    auth=True,
)
def my_courses():
    return enrollment.my_enrollments(current_api_user().id, utcnow())


def _busy_coupons() -> Conflict:
    # Lock contention when placing an order is over coupons (or the same items) in use by
    # another order being placed at the same moment.
    return Conflict("That coupon is being used by another order.", slug="coupon_unavailable")


def _commit(value):
    db.session.commit()
    return value
