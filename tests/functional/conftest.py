"""Fixtures of the functional tests beyond tests/conftest.py."""

from __future__ import annotations

import pytest

from app.services.payments.alipay import set_sandbox_transport
from tests.refund_desk import Desk


@pytest.fixture
def desk(app) -> Desk:
    """The sandbox refund desk of the test's app, counting what it is asked to refund."""
    desk = Desk(app)
    set_sandbox_transport(app, desk)
    return desk
