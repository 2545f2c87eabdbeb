"""The API's envelope: `{"code", "data", "msg"}` plus `"error"` on a refusal (CONTRACT.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify
from flask.json.provider import DefaultJSONProvider

OK = 1000


@dataclass(frozen=True, slots=True)
class JSONData:
    """A view's `data` already encoded, as compact JSON (a cached catalog read): the envelope
    is written around the text as it is, without decoding and encoding it again."""

    text: bytes

    def parsed(self) -> Any:
        return json.loads(self.text)


def ok_response(data: Any, status: int = 200, msg: str = "ok") -> Response:
    if isinstance(data, JSONData):
        if _writes_compact_json():
            return _envelope_around(data.text, status, msg)
        data = data.parsed()  # debug: jsonify indents the whole envelope
    response = jsonify({"code": OK, "data": data, "msg": msg})
    response.status_code = status
    return response


def error_response(
    *, status: int, code: int, slug: str, message: str, data: Any = None
) -> Response:
    response = jsonify({"code": code, "data": data, "msg": message, "error": slug})
    response.status_code = status
    return response


def _writes_compact_json() -> bool:
    """Whether `jsonify` writes compact JSON, as `JSONData` is."""
    provider = current_app.json
    if type(provider) is not DefaultJSONProvider:
        return False
    return provider.compact is True or (provider.compact is None and not current_app.debug)


def _envelope_around(text: bytes, status: int, msg: str) -> Response:
    # The bytes `jsonify` would write: keys in order (sorted or not, "code" < "data" < "msg"),
    # no spaces, a final newline.
    provider = current_app.json
    body = b"".join(
        (b'{"code":%d,"data":' % OK, text, b',"msg":', provider.dumps(msg).encode(), b"}\n")
    )
    return current_app.response_class(body, status=status, mimetype=provider.mimetype)
