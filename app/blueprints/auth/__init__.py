"""Account pages: register, log in, log out, the account settings and the bot check's challenge."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.blueprints.auth import routes  # noqa: E402, F401  (routes register on import)
