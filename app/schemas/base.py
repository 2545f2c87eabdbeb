"""Parsing input with a schema into a typed value, or an InvalidInput naming each bad field; and
the shape of a page of any list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from app.services.errors import InvalidInput
from app.services.paging import Page

M = TypeVar("M", bound=BaseModel)


class Schema(BaseModel):
    """Request schemas refuse unknown fields' types but ignore unknown names."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Out(BaseModel):
    """Response schemas: what the API promises to answer (checked in tests)."""

    model_config = ConfigDict(extra="forbid")


def _message(error: dict[str, Any]) -> str:
    message = error.get("msg", "Invalid value.")
    return message.removeprefix("Value error, ")


def fields_of(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error.get("loc", ())) or "body"
        fields.setdefault(name, _message(error))
    return fields


def parse_input(schema: type[M], data: Any) -> M:
    """Validate `data` (a mapping, or a MultiDict of query arguments) against `schema`."""
    if hasattr(data, "to_dict") and callable(data.to_dict):
        data = data.to_dict()  # query strings: the first value of each name
    if not isinstance(data, Mapping):
        raise InvalidInput(
            "The body must be a JSON object.", fields={"body": "Expected an object."}
        )
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(fields=fields_of(exc)) from None


def page_dict(page: Page, shape: Callable[[Any], Any]) -> dict[str, Any]:
    """A page of a list (`CoursePageOut`, `DegreePageOut`, `OrderPageOut`), each row shaped."""
    return {
        "items": [shape(item) for item in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }
