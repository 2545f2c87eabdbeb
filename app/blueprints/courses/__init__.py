"""Catalog pages: the course list, a course, a degree course."""

from flask import Blueprint

bp = Blueprint("courses", __name__)

from app.blueprints.courses import routes  # noqa: E402, F401  (routes register on import)
