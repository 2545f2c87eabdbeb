"""Reading the API's envelope in tests: `ok(response)` for data, `refused(...)` for a refusal."""

from __future__ import annotations

from typing import Any


def ok(response, status: int = 200) -> Any:
    """The envelope's `data`, after checking the status, code 1000 and no error slug."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == 1000, body
    assert "error" not in body
    return body["data"]


def refused(response, status: int, slug: str, *, code: int | None = None) -> dict[str, Any]:
    """The whole envelope of a refusal, after checking its status, slug, message and (when
    given) its code."""
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    assert body["error"] == slug, body
    assert isinstance(body["msg"], str)
    assert body["msg"]
    if code is not None:
        assert body["code"] == code, body
    return body
