"""The API describing itself: the OpenAPI document."""

from __future__ import annotations

from flask import jsonify

from app.blueprints.api import api, bp
from app.blueprints.api.spec import openapi_document


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document, made from the same schemas that validate the API."""
    return jsonify(openapi_document(api, title="Luffy City course store API", version="1"))
