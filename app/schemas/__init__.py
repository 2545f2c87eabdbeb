"""Request and response schemas (pydantic): they validate the API and pages' input and are
the source of the OpenAPI document."""

from app.schemas.base import parse_input

__all__ = ["parse_input"]
