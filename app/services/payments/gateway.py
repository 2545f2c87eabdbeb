"""What every payment gateway offers the shop, and the checks on what a gateway sends back."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.models import Order

# (url, form parameters, timeout in seconds) -> the response body. Tests and the sandbox pass
# their own, so that nothing goes over the network to answer them.
Transport = Callable[[str, Mapping[str, str], float], str]

# Plain digits, at most two places: no sign, exponent, NaN, Infinity, spaces or other digits.
_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RefundResult:
    """How a refund request ended. `ok` False carries the gateway's (or the network's) word."""

    ok: bool
    message: str
    code: str | None = None
    sub_code: str | None = None
    trade_no: str | None = None
    refund_fee: Decimal | None = None  # the trade's refunded total, as the gateway reports it
    fund_change: bool | None = None  # False: this request_no had already been refunded


class Gateway(ABC):
    """A payment gateway: where to send the buyer, how to trust a notification, how to refund.

    `method` is the order's payment method ("alipay", "sandbox"); a notification verified by a
    gateway may only pay an order of that method. `app_id` and `seller_id` are what a
    notification must name.
    """

    method: str
    app_id: str
    seller_id: str | None

    @abstractmethod
    def page_pay_url(self, order: Order, subject: str, expires_at: datetime) -> str:
        """The URL that opens the gateway's pay page for `order` (its order_no and amount)."""

    @abstractmethod
    def verify_notification(self, params: Mapping[str, str]) -> bool:
        """True when the signature is the gateway's. `params` is plain: the caller has refused
        a repeated parameter already (see `single_valued`). Never raises."""

    @abstractmethod
    def refund(self, order_no: str, amount: Decimal, reason: str, request_no: str) -> RefundResult:
        """Ask the gateway to refund `amount` of the trade. The same `request_no` again is the
        same refund (safe to retry). Never raises: failures come back as `ok=False`."""

    def notification_refusal(self, params: Mapping[str, str]) -> str | None:
        """Why a notification must not be trusted, or None when it may be: "bad_signature",
        "wrong_app_id", or "wrong_seller" (checked only when the gateway has a seller id)."""
        if not self.verify_notification(params):
            return "bad_signature"
        if params.get("app_id") != self.app_id:
            return "wrong_app_id"
        if self.seller_id and params.get("seller_id") != self.seller_id:
            return "wrong_seller"
        return None


def single_valued(params: Any) -> dict[str, str] | None:
    """A plain dict of a form's parameters, or None when any parameter is repeated.

    A repeated parameter is refused outright: which copy was signed and which one is read
    must never differ.
    """
    if hasattr(params, "lists"):  # werkzeug's MultiDict
        plain: dict[str, str] = {}
        for key, values in params.lists():
            if len(values) != 1:
                return None
            plain[key] = values[0]
        return plain
    if isinstance(params, Mapping):
        return dict(params)
    seen: dict[str, str] = {}
    for key, value in params:  # pairs, as parse_qsl gives them
        if key in seen:
            return None
        seen[key] = value
    return seen


def parse_amount(value: object) -> Decimal | None:
    """An amount as a gateway writes it ("199.00", "199") as Decimal to the cent; None for
    anything else (negative, more than two places, exponent, NaN, Infinity, empty, text)."""
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        return None
    try:
        return Decimal(value).quantize(CENT)
    except InvalidOperation:
        return None
