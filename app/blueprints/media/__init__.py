"""Uploaded images (/uploads/<name>, from the editor) and lesson videos (/media/<token>)."""

from flask import Blueprint

bp = Blueprint("media", __name__)

from app.blueprints.media import lessons, routes  # noqa: E402, F401  (routes register on import)
