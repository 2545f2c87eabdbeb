"""The shop's pages: the cart, settlement, orders, my courses and studying a section."""

from flask import Blueprint

bp = Blueprint("shop", __name__)

from app.blueprints.shop import learning, routes  # noqa: E402, F401  (routes register on import)
