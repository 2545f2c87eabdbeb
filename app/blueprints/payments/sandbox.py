"""The sandbox gateway (PAYMENT_SANDBOX=1 only): checks our signed page-pay request, shows the
order with Pay and Cancel, and on Pay signs a notification with its own key and hands it to the
very same notify handler, in the process (a call over HTTP to ourselves could deadlock a
single-worker server). A notification not answered `success` is retried by a job."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from flask import abort, current_app, redirect, render_template, request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app import unit_of_work
from app.blueprints.payments import bp
from app.blueprints.payments.routes import deliver_notification
from app.extensions import db, queue
from app.i18n import say
from app.models import Order
from app.models.types import utcnow
from app.services.errors import DomainError
from app.services.payments import sandbox as sandbox_books
from app.services.payments.alipay import beijing_time
from app.services.payments.gateway import parse_amount, single_valued
from app.services.payments.keys import sandbox_app_public_key, sandbox_gateway_private_key
from app.services.payments.notifications import SUCCESS
from app.services.payments.signing import sign_notification, verify_request


@bp.before_request
def sandbox_only():
    if request.path.startswith("/payments/sandbox") and not current_app.config["PAYMENT_SANDBOX"]:
        abort(404)


def _checked_request(query: str) -> tuple[dict[str, str], dict]:
    """The page-pay request as the shop signed it, or a 400: a tampered request pays nothing."""
    # A MultiDict, not a dict: a dict keeps one copy of a repeated parameter and hides it.
    params = single_valued(MultiDict(parse_qsl(query, keep_blank_values=True)))
    if not params or not verify_request(params, sandbox_app_public_key(current_app)):
        abort(400, description="The payment request's signature does not check out.")
    if params.get("app_id") != current_app.config["SANDBOX_APP_ID"]:
        abort(400, description="The payment request names another app.")
    try:
        biz = json.loads(params.get("biz_content", ""))
    except ValueError:
        abort(400, description="The payment request is malformed.")
    if not isinstance(biz, dict) or not biz.get("out_trade_no"):
        abort(400, description="The payment request is malformed.")
    return params, biz


def _order(biz: dict) -> Order:
    order = db.session.scalar(select(Order).where(Order.order_no == str(biz["out_trade_no"])))
    if order is None:
        abort(404)
    return order


def _page(params: dict, biz: dict, signed_request: str, refusal: str | None, status: int = 200):
    order = _order(biz)
    return (
        render_template(
            "payments/sandbox.html",
            order=order,
            biz=biz,
            signed_request=signed_request,
            return_url=params.get("return_url", "/"),
            refusal=refusal,
        ),
        status,
    )


@bp.get("/payments/sandbox/gateway")
def sandbox_gateway():
    signed_request = request.query_string.decode()
    params, biz = _checked_request(signed_request)
    refusal = sandbox_books.payment_refusal(_order(biz), biz.get("time_expire"), utcnow())
    return _page(params, biz, signed_request, say(refusal) if refusal else None)


def sandbox_notification(biz: dict, trade_no: str, now: datetime) -> dict[str, str]:
    """What Alipay would POST to the notify URL for a successful payment, signed."""
    config = current_app.config
    params = {
        "notify_time": beijing_time(now),
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "charset": "utf-8",
        "version": "1.0",
        "app_id": config["SANDBOX_APP_ID"],
        "auth_app_id": config["SANDBOX_APP_ID"],
        "seller_id": config["SANDBOX_SELLER_ID"],
        "buyer_id": "2088000000000001",
        "out_trade_no": str(biz["out_trade_no"]),
        "trade_no": trade_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": str(biz.get("total_amount", "")),
        "receipt_amount": str(biz.get("total_amount", "")),
        "subject": str(biz.get("subject", "")),
        "gmt_create": beijing_time(now),
        "gmt_payment": beijing_time(now),
    }
    return sign_notification(params, sandbox_gateway_private_key(current_app))


@bp.post("/payments/sandbox/gateway/pay")
def sandbox_pay():
    signed_request = request.form.get("signed_request", "")
    params, biz = _checked_request(signed_request)
    _order(biz)
    amount = parse_amount(biz.get("total_amount"))
    if amount is None:
        abort(400, description="The payment request is malformed.")
    now = utcnow()
    try:
        # Like Alipay: no money for an order that is closed, past its time, or paid already
        # (Pay pressed twice makes one trade). The trade is on the gateway's books before the
        # notification leaves.
        trade_no = unit_of_work.run(
            lambda: sandbox_books.open_trade(
                str(biz["out_trade_no"]), amount, biz.get("time_expire"), now
            )
        )
    except DomainError as exc:
        return _page(params, biz, signed_request, say(exc.message), status=409)
    notification = sandbox_notification(biz, trade_no, now)
    if deliver_notification(notification) != SUCCESS:
        # As Alipay does: deliver it again later, until the shop answers success.
        from app.jobs import redeliver_sandbox_notification

        queue.enqueue(redeliver_sandbox_notification, notification)  # nothing left to commit
    back = {
        key: notification[key]
        for key in ("app_id", "seller_id", "out_trade_no", "trade_no", "total_amount")
    }
    back.update(
        method="alipay.trade.page.pay.return",
        timestamp=beijing_time(now),
        charset="utf-8",
        version="1.0",
    )
    signed = sign_notification(back, sandbox_gateway_private_key(current_app))
    return redirect(f"{params.get('return_url', '/')}?{urlencode(signed)}")


@bp.post("/payments/sandbox/gateway/cancel")
def sandbox_cancel():
    """The buyer leaves the pay page: nothing happens to the order, which stays payable."""
    _checked_request(request.form.get("signed_request", ""))
    return redirect("/")
