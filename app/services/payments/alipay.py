"""Alipay page pay, notification checks and refunds (RSA2), and which gateway an order uses."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from app.services.errors import N_, InvalidInput
from app.services.payments import keys
from app.services.payments.gateway import CENT, Gateway, RefundResult, Transport, parse_amount
from app.services.payments.signing import (
    SIGN_TYPE,
    rsa2_sign,
    rsa2_verify,
    sign_request,
    verify,
    verify_request,
)

if TYPE_CHECKING:
    from flask import Flask

    from app.models import Order

log = logging.getLogger(__name__)

ALIPAY = "alipay"
SANDBOX = "sandbox"
NOTIFY_PATH = "/payments/alipay/notify"
RETURN_PATH = "/payments/alipay/return"
SANDBOX_GATEWAY_PATH = "/payments/sandbox/gateway"
PAGE_PAY = "alipay.trade.page.pay"
REFUND = "alipay.trade.refund"
SUCCESS_CODE = "10000"
# Alipay reads every time as Beijing time. China has kept UTC+8 without daylight saving since
# 1991, so a fixed offset is exact and needs no tz database on the server.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_AMOUNT = Decimal("100000000.00")  # Alipay's ceiling for one trade
SUBJECT_LENGTH = 256
REASON_LENGTH = 256
# Alipay's page pay refuses these in a subject.
_SUBJECT_FORBIDDEN = re.compile(r"[/=&\s]+")


def beijing_time(moment: datetime) -> str:
    """An aware datetime as Alipay writes times: "YYYY-MM-DD HH:MM:SS" in Beijing time."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed; naive times are ambiguous")
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def format_amount(amount: Decimal) -> str:
    """An amount as Alipay takes it: a string with two decimals, from 0.01 to 100000000.00."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount.quantize(CENT) != amount:
        raise ValueError(f"an amount must be a Decimal of whole cents, got {amount!r}")
    if not Decimal("0.01") <= amount <= MAX_AMOUNT:
        raise ValueError(f"Alipay takes amounts from 0.01 to {MAX_AMOUNT}, got {amount}")
    return f"{amount.quantize(CENT):f}"


def clean_subject(subject: str, fallback: str) -> str:
    cleaned = _SUBJECT_FORBIDDEN.sub(" ", subject).strip()[:SUBJECT_LENGTH].strip()
    return cleaned or fallback


def _compact_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def http_transport(url: str, form: Mapping[str, str], timeout: float) -> str:
    """POST the form to the gateway and answer its body (the production transport)."""
    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"the gateway URL must be http(s): {url!r}")
    request = urllib.request.Request(  # noqa: S310  (the scheme is checked above)
        url,
        data=urlencode(dict(form)).encode("utf-8"),
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        charset = response.headers.get_content_charset() or "utf-8"
        return response.read(1_000_000).decode(charset)


def response_key(method: str) -> str:
    """alipay.trade.refund -> alipay_trade_refund_response, as Alipay names its answers."""
    return method.replace(".", "_") + "_response"


def signed_response(method: str, body: Mapping[str, Any], private_key: rsa.RSAPrivateKey) -> str:
    """An answer to `method` signed the way Alipay signs its answers: over the exact JSON text
    of the response object. For the sandbox and tests."""
    text = _compact_json(body)
    return f'{{"{response_key(method)}":{text},"sign":"{rsa2_sign(text, private_key)}"}}'


def _raw_member(raw: str, key: str) -> str | None:
    """The exact text of a top-level member's value, which is what Alipay's answer signature
    covers (re-serialising the parsed JSON would not give the same bytes)."""
    decoder = json.JSONDecoder()
    whitespace = re.compile(r"\s*")
    pos = whitespace.match(raw, 0).end()
    if raw[pos : pos + 1] != "{":
        return None
    pos += 1
    while True:
        pos = whitespace.match(raw, pos).end()
        if raw[pos : pos + 1] == "}":
            return None
        name, pos = decoder.raw_decode(raw, pos)
        pos = whitespace.match(raw, pos).end()
        if raw[pos : pos + 1] != ":":
            return None
        pos = whitespace.match(raw, pos + 1).end()
        start = pos
        _, pos = decoder.raw_decode(raw, pos)
        if name == key:
            return raw[start:pos]
        pos = whitespace.match(raw, pos).end()
        if raw[pos : pos + 1] != ",":
            return None
        pos += 1


class AlipayGateway(Gateway):
    """Alipay's open API with RSA2 keys; with the sandbox's keys and URL, the sandbox too."""

    def __init__(
        self,
        app_id: str,
        app_private_key: rsa.RSAPrivateKey,
        alipay_public_key: rsa.RSAPublicKey,
        gateway_url: str,
        notify_url: str,
        return_url: str,
        seller_id: str | None = None,
        *,
        method: str = ALIPAY,
        transport: Transport | None = None,
        timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app_id = app_id
        self.app_private_key = app_private_key
        self.alipay_public_key = alipay_public_key
        self.gateway_url = gateway_url
        self.notify_url = notify_url
        self.return_url = return_url
        self.seller_id = seller_id or None
        self.method = method
        self.transport = transport or http_transport
        self.timeout = timeout
        self.clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"<AlipayGateway {self.method} app_id={self.app_id!r} {self.gateway_url}>"

    def _common(self, api: str, biz_content: Mapping[str, Any]) -> dict[str, str]:
        return {
            "app_id": self.app_id,
            "method": api,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": SIGN_TYPE,
            "timestamp": beijing_time(self.clock()),
            "version": "1.0",
            "biz_content": _compact_json(biz_content),
        }

    def page_pay_params(self, order: Order, subject: str, expires_at: datetime) -> dict[str, str]:
        """The signed parameters of `alipay.trade.page.pay` for the order."""
        biz_content = {
            "out_trade_no": order.order_no,
            "total_amount": format_amount(order.actual_amount),
            "subject": clean_subject(subject, order.order_no),
            "product_code": "FAST_INSTANT_TRADE_PAY",
            "time_expire": beijing_time(expires_at),
        }
        params = self._common(PAGE_PAY, biz_content)
        params["notify_url"] = self.notify_url
        params["return_url"] = self.return_url
        return sign_request(params, self.app_private_key)

    def page_pay_url(self, order: Order, subject: str, expires_at: datetime) -> str:
        separator = "&" if "?" in self.gateway_url else "?"
        query = urlencode(self.page_pay_params(order, subject, expires_at))
        return f"{self.gateway_url}{separator}{query}"

    def verify_notification(self, params: Mapping[str, str]) -> bool:
        return verify(params, self.alipay_public_key)

    def refund_params(
        self, order_no: str, amount: Decimal, reason: str, request_no: str
    ) -> dict[str, str]:
        """The signed parameters of `alipay.trade.refund`."""
        biz_content = {
            "out_trade_no": order_no,
            "refund_amount": format_amount(amount),
            "out_request_no": request_no,
        }
        reason = " ".join(reason.split())[:REASON_LENGTH]
        if reason:
            biz_content["refund_reason"] = reason
        return sign_request(self._common(REFUND, biz_content), self.app_private_key)

    def refund(self, order_no: str, amount: Decimal, reason: str, request_no: str) -> RefundResult:
        try:
            params = self.refund_params(order_no, amount, reason, request_no)
        except ValueError as exc:
            return RefundResult(ok=False, message=str(exc))
        try:
            raw = self.transport(self.gateway_url, params, self.timeout)
        except Exception as exc:
            log.warning("refund of %s: the gateway did not answer: %s", order_no, exc)
            return RefundResult(ok=False, message=f"the gateway did not answer: {exc}")
        result = self._read_refund_answer(raw, order_no)
        if not result.ok:
            log.warning("refund of %s refused: %s", order_no, result.message)
        return result

    def _read_refund_answer(self, raw: object, order_no: str) -> RefundResult:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not isinstance(raw, str):
            return RefundResult(ok=False, message="the gateway's answer is not text")
        try:
            document = json.loads(raw)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return RefundResult(ok=False, message="the gateway's answer is not JSON")
        body = document.get(response_key(REFUND)) or document.get("error_response")
        if not isinstance(body, dict):
            return RefundResult(ok=False, message="the gateway's answer has no refund response")
        code = str(body.get("code", "")) or None
        sub_code = body.get("sub_code") or None
        if code != SUCCESS_CODE:
            words = [str(w) for w in (body.get("msg"), body.get("sub_msg")) if w]
            return RefundResult(
                ok=False,
                message=": ".join(words) or "the gateway refused the refund",
                code=code,
                sub_code=sub_code,
            )
        try:
            signed_text = _raw_member(raw, response_key(REFUND))
        except ValueError:
            signed_text = None
        # A success that Alipay did not sign could be anyone's; it must not close a refund.
        if signed_text is None or not rsa2_verify(
            signed_text, document.get("sign"), self.alipay_public_key
        ):
            return RefundResult(
                ok=False, message="the gateway's answer is not signed by it", code=code
            )
        if body.get("out_trade_no") not in (None, order_no):
            return RefundResult(ok=False, message="the answer is about another trade", code=code)
        fund_change = body.get("fund_change")
        return RefundResult(
            ok=True,
            message=str(body.get("msg") or "Success"),
            code=code,
            trade_no=body.get("trade_no") or None,
            refund_fee=parse_amount(body.get("refund_fee")),
            fund_change=None if fund_change is None else fund_change == "Y",
        )


# --- Which gateway ----------------------------------------------------------------------------


def available_methods(app: Flask) -> list[str]:
    """The payment methods offered: Alipay when configured, the sandbox while it is on."""
    methods = []
    if keys.alipay_configured(app):
        methods.append(ALIPAY)
    if app.config.get("PAYMENT_SANDBOX"):
        methods.append(SANDBOX)
    return methods


# Where nothing better is known (a job refunding: its notify and return URLs are not sent).
FALLBACK_BASE_URL = "http://127.0.0.1:5000"


def _url(app: Flask, path: str, request_base: str | None = None) -> str:
    """An address of this site for the gateway: `PUBLIC_BASE_URL` when set (production requires
    it), else the address the request came in on (`make run PORT=5055` pays on 5055)."""
    base = app.config.get("PUBLIC_BASE_URL") or request_base or FALLBACK_BASE_URL
    return base.rstrip("/") + path


def set_sandbox_transport(app: Flask, transport: Transport) -> None:
    """Let the sandbox blueprint answer the sandbox's refunds itself, in the process."""
    keys.payment_state(app)["sandbox_transport"] = transport


def sandbox_transport(app: Flask) -> Transport:
    """The sandbox's refund desk, in the process: a call over HTTP to this very server could
    deadlock a single-worker server. It checks our signature and grants every refund."""

    def answer(url: str, form: Mapping[str, str], timeout: float) -> str:
        gateway_key = keys.sandbox_gateway_private_key(app)
        params = dict(form)
        if not verify_request(params, keys.sandbox_app_public_key(app)):
            body = {
                "code": "40002",
                "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-signature",
            }
            return signed_response("error", body, gateway_key)  # Alipay's "error_response"
        if params.get("method") != REFUND:
            body = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.METHOD_UNKNOWN"}
            return signed_response(REFUND, body, gateway_key)
        biz = json.loads(params.get("biz_content") or "{}")
        body = {
            "code": SUCCESS_CODE,
            "msg": "Success",
            "out_trade_no": biz.get("out_trade_no"),
            "refund_fee": biz.get("refund_amount"),
            "fund_change": "Y",
        }
        return signed_response(REFUND, body, gateway_key)

    return answer


def _alipay_gateway(app: Flask, request_base: str | None = None) -> AlipayGateway:
    loaded = keys.alipay_keys(app)
    return AlipayGateway(
        app_id=app.config["ALIPAY_APP_ID"],
        app_private_key=loaded.app_private_key,
        alipay_public_key=loaded.alipay_public_key,
        gateway_url=app.config["ALIPAY_GATEWAY_URL"],
        notify_url=_url(app, NOTIFY_PATH, request_base),
        return_url=_url(app, RETURN_PATH, request_base),
        seller_id=app.config.get("ALIPAY_SELLER_ID"),
        method=ALIPAY,
    )


def _sandbox_gateway(app: Flask, request_base: str | None = None) -> AlipayGateway:
    loaded = keys.ensure_sandbox_keys(app)
    transport = keys.payment_state(app).get("sandbox_transport") or sandbox_transport(app)
    return AlipayGateway(
        app_id=app.config["SANDBOX_APP_ID"],
        app_private_key=loaded.app.private_key,
        alipay_public_key=loaded.gateway.public_key,
        gateway_url=_url(app, SANDBOX_GATEWAY_PATH, request_base),
        notify_url=_url(app, NOTIFY_PATH, request_base),
        return_url=_url(app, RETURN_PATH, request_base),
        seller_id=app.config.get("SANDBOX_SELLER_ID"),
        method=SANDBOX,
        transport=transport,
    )


def check_method(app: Flask, method: str) -> None:
    """Refuse a payment method that is not offered, before anything is written."""
    offered = available_methods(app)
    if method not in offered:
        raise InvalidInput(
            N_("This payment method is not available."),
            slug="payment_method_unavailable",
            fields={"payment_method": f"one of: {', '.join(offered) or 'none'}"},
        )


def gateway_for(app: Flask, method: str, request_base: str | None = None) -> AlipayGateway:
    """The gateway of a payment method, or InvalidInput `payment_method_unavailable`.
    `request_base` is the address the request came in on (see `_url`)."""
    check_method(app, method)
    if method == ALIPAY:
        return _alipay_gateway(app, request_base)
    return _sandbox_gateway(app, request_base)


def order_subject(order: Order) -> str:
    """What the buyer sees on the gateway's page: the names of what the order buys."""
    return "、".join(line.product_name for line in order.lines) or order.order_no


def pay_url_for(app: Flask, order: Order, request_base: str | None = None) -> str | None:
    """Where the buyer pays a pending order; None when there is nothing to pay (not pending,
    amount 0) or its payment method is no longer offered. The view passes the address its
    request came in on (`request.host_url`), used when `PUBLIC_BASE_URL` is not set."""
    if order.status != "pending" or not order.actual_amount:
        return None
    if order.payment_method not in available_methods(app):
        return None
    gateway = gateway_for(app, order.payment_method, request_base)
    return gateway.page_pay_url(order, order_subject(order), order.expires_at)


def gateway_for_notification(app: Flask, params: Mapping[str, str]) -> AlipayGateway | None:
    """The gateway whose app id a notification names, or None for an app id we do not have.

    Only a guide to which key to check with: the signature decides, and the order's own
    payment method must be this gateway's `method`.
    """
    app_id = params.get("app_id")
    if not app_id:
        return None
    methods = available_methods(app)
    if ALIPAY in methods and app_id == app.config["ALIPAY_APP_ID"]:
        return _alipay_gateway(app)
    if SANDBOX in methods and app_id == app.config["SANDBOX_APP_ID"]:
        return _sandbox_gateway(app)
    return None
