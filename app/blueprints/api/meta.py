"""The API describing itself: the OpenAPI document."""

from __future__ import annotations

from flask import current_app, jsonify

from app.blueprints.api import api, bp
from app.blueprints.api.spec import openapi_document
from app.services.payments.alipay import available_methods


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document, made from the same schemas that validate the API."""
    document = openapi_document(api, title="Luffy City course store API", version="1")
    # What this server takes, not every method the code knows: Alipay only when configured.
    offered = available_methods(current_app)
    placing = document["components"]["schemas"].get("OrderIn", {}).get("properties", {})
    if "payment_method" in placing and offered:
        placing["payment_method"] = {**placing["payment_method"], "enum": offered}
    return jsonify(document)
