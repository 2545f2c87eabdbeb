"""The coupon centre page: claimable coupons and a student's own."""

from flask import Blueprint

bp = Blueprint("coupons", __name__)

from app.blueprints.coupons import routes  # noqa: E402, F401  (routes register on import)
