"""The sandbox gateway's refund desk as tests see it: it counts the refunds it is asked for and
can refuse them or not answer. The `desk` fixture (tests/functional/conftest.py) puts one in
front of the app's sandbox gateway."""

from __future__ import annotations

import json

from app.services.payments.alipay import sandbox_transport, signed_response
from app.services.payments.keys import sandbox_gateway_private_key


class Desk:
    """The sandbox's refund desk, counting the requests it is sent; `fail` makes it refuse
    (a signed business failure) or not answer at all (an exception)."""

    def __init__(self, app) -> None:
        self.app = app
        self.real = sandbox_transport(app)
        self.requests: list[dict] = []
        self.fail: str | None = None  # None, "refuse" or "down"

    def __call__(self, url, form, timeout):
        self.requests.append({**dict(form), "biz": json.loads(form["biz_content"])})
        if self.fail == "down":
            raise ConnectionError("connection refused")
        if self.fail == "refuse":
            body = {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
            return signed_response(
                "alipay.trade.refund", body, sandbox_gateway_private_key(self.app)
            )
        return self.real(url, form, timeout)

    @property
    def biz(self) -> list[dict]:
        return [r["biz"] for r in self.requests]
