"""API endpoints declared once with their schemas: the same declaration validates requests,
checks responses in tests, and writes the OpenAPI document."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, TypeAdapter

from app.blueprints.api.envelope import JSONData, ok_response
from app.schemas.base import parse_input
from app.services.errors import InvalidInput

ERROR_STATUS = {
    400: "Malformed or invalid input (code 1001 or 1007)",
    401: "Login required, or the token is unknown, expired or revoked (code 1003)",
    403: "Forbidden (code 1004)",
    404: "No such thing, or not yours (code 1002)",
    409: "Conflict with the current state (code 1005)",
    413: "Body too large (code 1001)",
    429: "Rate limited (code 1006)",
}


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    tags: list[str]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: Any = None  # a model, list[model], or None for `data: null`
    status: int = 200
    auth: bool = False
    errors: tuple[int, ...] = ()
    # OpenAPI security requirements, when not just "a token" (auth=True) or none.
    security: list[dict[str, list]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Api:
    """Collects the operations of the API blueprint."""

    def __init__(self, blueprint: Blueprint, prefix: str) -> None:
        self.blueprint = blueprint
        self.prefix = prefix
        self.operations: list[Operation] = []
        # Checks the request's credentials for `auth=True` routes (set by the auth module).
        self.authenticate: Callable[[], Any] | None = None

    def route(
        self,
        rule: str,
        method: str = "GET",
        *,
        summary: str,
        tags: list[str],
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        auth: bool = False,
        errors: tuple[int, ...] = (),
        security: list[dict[str, list]] | None = None,
    ) -> Callable:
        """Register a view. It receives `query=` and/or `body=` already validated, and returns
        the `data` of the envelope (or `JSONData`, that data already encoded, or a Response)."""

        def decorator(view: Callable) -> Callable:
            # A view under a rate limit (app.security) may be refused with 429.
            documented = (*errors, 429) if getattr(view, "rate_limits", None) else errors
            op = Operation(
                rule=rule,
                method=method.upper(),
                endpoint=view.__name__,
                summary=summary,
                tags=tags,
                query=query,
                body=body,
                response=response,
                status=status,
                auth=auth,
                errors=documented,
                security=security,
            )
            self.operations.append(op)
            checker = TypeAdapter(response) if response is not None else None

            @functools.wraps(view)
            def wrapped(**kwargs: Any):
                if auth:  # who is asking comes before what is asked
                    self.authenticate()
                if query is not None:
                    kwargs["query"] = parse_input(query, request.args)
                if body is not None:
                    kwargs["body"] = parse_input(body, json_body())
                data = view(**kwargs)
                if hasattr(data, "status_code"):
                    return data
                if checker is not None and current_app.testing:
                    # The answer keeps the documented shape (what a client reads, when encoded).
                    checker.validate_python(data.parsed() if isinstance(data, JSONData) else data)
                return ok_response(data, status=status)

            self.blueprint.add_url_rule(rule, view.__name__, wrapped, methods=[op.method])
            return wrapped

        return decorator


def json_body() -> Any:
    """The request's JSON body; an absent, non-JSON or malformed body is a 400."""
    if not request.data:
        return {}
    if not request.is_json:
        raise InvalidInput(
            "The body must be JSON (Content-Type: application/json).",
            fields={"body": "Expected JSON."},
        )
    payload = request.get_json(silent=True)
    if payload is None:
        raise InvalidInput("The body is not valid JSON.", fields={"body": "Malformed JSON."})
    return payload


# --- OpenAPI ----------------------------------------------------------------------------------

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for converter, name in _CONVERTER.findall(rule):
        schema = (
            {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}  # app.ids.IdConverter
            if converter == "int"
            else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _CONVERTER.sub(r"{\2}", rule), params


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, annotation: Any) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, definition in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, definition)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            self.schemas.setdefault(annotation.__name__, schema)
            return {"$ref": f"#/components/schemas/{annotation.__name__}"}
        return schema


def _envelope(data_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code", "data", "msg"],
        "properties": {
            "code": {"type": "integer", "enum": [1000]},
            "data": data_schema,
            "msg": {"type": "string"},
        },
    }


ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "data", "msg", "error"],
    "properties": {
        "code": {"type": "integer", "enum": [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1030]},
        "data": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}}
                    },
                },
            ]
        },
        "msg": {"type": "string"},
        "error": {"type": "string"},
    },
}


def _query_parameters(model: type[BaseModel], components: _Components) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    params = []
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def openapi_document(api: Api, *, title: str, version: str) -> dict[str, Any]:
    components = _Components()
    paths: dict[str, Any] = {}
    for op in api.operations:
        path, params = _openapi_path(api.prefix + op.rule)
        if op.query is not None:
            params += _query_parameters(op.query, components)
        data_schema = components.ref(op.response) if op.response is not None else {"type": "null"}
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "OK",
                "content": {"application/json": {"schema": _envelope(data_schema)}},
            }
        }
        statuses = set(op.errors) | ({400} if op.query or op.body else set())
        if op.auth:
            statuses.add(401)
        for status in sorted(statuses):
            responses[str(status)] = {
                "description": ERROR_STATUS.get(status, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        operation: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": op.tags,
            "parameters": params,
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": components.ref(op.body)}},
            }
        if op.security is not None:
            operation["security"] = op.security
        elif op.auth:
            operation["security"] = [{"token": []}, {"session": []}]
        paths.setdefault(path, {})[op.method.lower()] = operation
    components.schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <key>` or `Bearer <key>`",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The site's page session, on requests from the site's own "
                    "pages only (`Sec-Fetch-Site`); anything but GET/HEAD/OPTIONS also needs "
                    "the page's CSRF token in `X-CSRFToken`",
                },
            },
        },
    }
