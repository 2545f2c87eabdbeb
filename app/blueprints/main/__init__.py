"""Site-wide pages: the homepage, the language switch and the health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from app.blueprints.main import routes  # noqa: E402, F401  (routes register on import)
