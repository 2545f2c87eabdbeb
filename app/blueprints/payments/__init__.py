"""Payments: Alipay's notify and return URLs, and the sandbox gateway that plays Alipay."""

from flask import Blueprint

bp = Blueprint("payments", __name__)

from app.blueprints.payments import routes, sandbox  # noqa: E402, F401
