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

from app.blueprints.payments import bp
from app.blueprints.payments.routes import deliver_notification
from app.extensions import db, queue
from app.models import Order
from app.models.types import utcnow
from app.services.payments import (
    beijing_time,
    sandbox_app_public_key,
    sandbox_gateway_private_key,
    sign_notification,
    single_valued,
    verify_request,
)
from app.services.payments.notifications import SUCCESS


@bp.before_request
def sandbox_only():
    if request.path.startswith("/payments/sandbox") and not current_app.config["PAYMENT_SANDBOX"]:
        abort(404)


def _checked_request(query: str) -> tuple[dict[str, str], dict]:
    """The page-pay request as the shop signed it, or a 400: a tampered request pays nothing."""
    params = single_valued(dict(parse_qsl(query, keep_blank_values=True)) if query else {})
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


@bp.get("/payments/sandbox/gateway")
def sandbox_gateway():
    params, biz = _checked_request(request.query_string.decode())
    return render_template(
        "payments/sandbox.html",
        order=_order(biz),
        biz=biz,
        signed_request=request.query_string.decode(),
        return_url=params.get("return_url", "/"),
    )


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
    params, biz = _checked_request(request.form.get("signed_request", ""))
    _order(biz)
    now = utcnow()
    trade_no = now.strftime("%Y%m%d") + f"{secrets.randbelow(10**20):020d}"
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
