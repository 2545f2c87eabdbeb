"""The API's envelope: `{"code", "data", "msg"}` plus `"error"` on a refusal (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

OK = 1000


def ok_response(data: Any, status: int = 200, msg: str = "ok") -> Response:
    response = jsonify({"code": OK, "data": data, "msg": msg})
    response.status_code = status
    return response


def error_response(
    *, status: int, code: int, slug: str, message: str, data: Any = None
) -> Response:
    response = jsonify({"code": code, "data": data, "msg": message, "error": slug})
    response.status_code = status
    return response
