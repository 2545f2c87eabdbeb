"""Uploaded images: served at /uploads/<name>, and uploaded by staff from the rich-text editor."""

from flask import Blueprint

bp = Blueprint("media", __name__)

from app.blueprints.media import routes  # noqa: E402, F401  (routes register on import)
