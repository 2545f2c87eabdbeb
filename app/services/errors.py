"""Domain errors: each carries the slug, code and status that pages and the API turn into words."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every refusal a service makes. `code` and `status` follow CONTRACT.md."""

    code: ClassVar[int] = 1030
    status: ClassVar[int] = 500
    default_slug: ClassVar[str] = "server_error"
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(
        self,
        message: str | None = None,
        *,
        slug: str | None = None,
        fields: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.slug = slug or self.default_slug
        self.fields = fields or {}
        self.extra = data or {}
        super().__init__(self.message)

    @property
    def data(self) -> dict[str, Any] | None:
        data = dict(self.extra)
        if self.fields:
            data["fields"] = self.fields
        return data or None


class InvalidInput(DomainError):
    code, status, default_slug = 1001, 400, "invalid_input"
    default_message = "The request is not valid."


class NotFound(DomainError):
    code, status, default_slug = 1002, 404, "not_found"
    default_message = "No such thing."


class Unauthorized(DomainError):
    code, status, default_slug = 1003, 401, "unauthorized"
    default_message = "Please sign in."


class Forbidden(DomainError):
    code, status, default_slug = 1004, 403, "forbidden"
    default_message = "You may not do that."


class Conflict(DomainError):
    code, status, default_slug = 1005, 409, "conflict"
    default_message = "That conflicts with the current state."


class RateLimited(DomainError):
    code, status, default_slug = 1006, 429, "rate_limited"
    default_message = "Too many requests; please wait a moment."


class CaptchaInvalid(DomainError):
    code, status, default_slug = 1007, 400, "captcha_invalid"
    default_message = "The bot check is missing, wrong or expired."


class Unavailable(DomainError):
    code, status, default_slug = 1030, 503, "unavailable"
    default_message = "A service we depend on is not answering; nothing was changed."
