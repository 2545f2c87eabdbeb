"""The JSON API under /api/v1: every answer in the contract's envelope."""

import importlib
import pkgutil

from flask import Blueprint

from app.blueprints.api.spec import Api

bp = Blueprint("api", __name__)
api = Api(bp, prefix="/api/v1")

# Every other module of this package declares endpoints on `api` when imported.
_SUPPORT = {"spec", "envelope"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SUPPORT:
        importlib.import_module(f"{__name__}.{_module.name}")
