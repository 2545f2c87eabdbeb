"""Jinja filters and globals shared by every page."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, request, url_for

from app.i18n import current_language


def money(value: Decimal | str | None) -> str:
    if value is None:
        return ""
    return f"¥{Decimal(value):,.2f}"


def duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def url_with(**changes: object) -> str:
    """The current page's URL with some query arguments changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = str(value)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["languages"] = app.config["LANGUAGES"]
