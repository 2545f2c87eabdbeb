"""Domain errors: each carries the slug, code and status that pages and the API turn into words."""

from __future__ import annotations

from typing import Any, ClassVar


def N_(message: str) -> str:
    """Mark a fixed English message as one to translate, and give it back unchanged.

    Services raise their refusals in English: the API answers with that text as it is, and pages
    show it in the visitor's language through `app.i18n.say`, which looks the English up in the
    catalogue. `N_` lets a service mark its messages without importing Flask-Babel (nothing is
    translated when the error is made); `pybabel extract -k N_` (`make translations`) collects
    them. Only a literal string is collected: a message built with values (an f-string, `%`)
    is no msgid, so put the values in the error's `data` or `fields` instead.
    """
    return message


class DomainError(Exception):
    """Base of every refusal a service makes. `code` and `status` follow CONTRACT.md."""

    code: ClassVar[int] = 1030
    status: ClassVar[int] = 500
    default_slug: ClassVar[str] = "server_error"
    default_message: ClassVar[str] = N_("Something went wrong on our side.")

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
    default_message = N_("The request is not valid.")


class NotFound(DomainError):
    code, status, default_slug = 1002, 404, "not_found"
    default_message = N_("No such thing.")


class Unauthorized(DomainError):
    code, status, default_slug = 1003, 401, "unauthorized"
    default_message = N_("Please sign in.")


class Forbidden(DomainError):
    code, status, default_slug = 1004, 403, "forbidden"
    default_message = N_("You may not do that.")


class Conflict(DomainError):
    code, status, default_slug = 1005, 409, "conflict"
    default_message = N_("That conflicts with the current state.")


class RateLimited(DomainError):
    code, status, default_slug = 1006, 429, "rate_limited"
    default_message = N_("Too many requests; please wait a moment.")


class CaptchaInvalid(DomainError):
    code, status, default_slug = 1007, 400, "captcha_invalid"
    default_message = N_("The bot check is missing, wrong or expired.")


class Unavailable(DomainError):
    code, status, default_slug = 1030, 503, "unavailable"
    default_message = N_("A service we depend on is not answering; nothing was changed.")
