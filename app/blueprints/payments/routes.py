"""The gateway's side: the notification (answered `success` only after commit) and the buyer's
return, which is shown and never changes an order."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, render_template, request
from sqlalchemy import select

from app import unit_of_work
from app.blueprints.payments import bp
from app.extensions import csrf, db
from app.models import Order
from app.models.types import utcnow
from app.services.errors import DomainError
from app.services.payments.alipay import gateway_for_notification
from app.services.payments.gateway import single_valued
from app.services.payments.notifications import FAILURE, apply_notification

log = logging.getLogger(__name__)


def deliver_notification(form: Mapping[str, Any]) -> str:
    """Apply a notification and commit; what the gateway must read back. Both Alipay's POST
    and the sandbox's in-process delivery come through here, to the very same verifier."""
    try:
        return unit_of_work.run(lambda: apply_notification(current_app, form, utcnow()).answer)
    except DomainError:
        return FAILURE  # the gateway will deliver it again


@bp.post("/payments/alipay/notify")
@csrf.exempt
def alipay_notify():
    return Response(deliver_notification(request.form), mimetype="text/plain")


@bp.get("/payments/alipay/return")
def alipay_return():
    """Where the buyer's browser comes back: verified like a notification, for display only."""
    params = single_valued(request.args)
    gateway = gateway_for_notification(current_app, params) if params else None
    verified = gateway is not None and gateway.notification_refusal(params) is None
    order = None
    if verified:
        order = db.session.scalar(select(Order).where(Order.order_no == params.get("out_trade_no")))
    return render_template("payments/return.html", verified=verified, order=order)
