"""The JSON API under /api/v1: every answer in the contract's envelope."""

from flask import Blueprint

from app.blueprints.api.spec import Api

bp = Blueprint("api", __name__)
api = Api(bp, prefix="/api/v1")

from app.blueprints.api import auth, catalog, meta  # noqa: E402, F401  (routes register on import)
