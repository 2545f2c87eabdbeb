"""Reading the API's envelope in tests: `ok(response)` for data, `refused(...)` for a refusal."""

from __future__ import annotations

from typing import Any


def ok(response, status: int = 200) -> Any:
    """The envelope's `data`, after checking the status and code 1000."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == 1000, body
    return body["data"]


def refused(response, status: int, slug: str) -> dict[str, Any]:
    """The whole envelope, after checking the status and the error slug."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"] == slug, body
    return body
