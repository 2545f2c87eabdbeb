"""Jinja filters and globals shared by every page."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask, current_app, request, url_for

from app.i18n import current_language, template_gettext, template_ngettext


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


def fixed_url(endpoint: str, **values: str) -> str:
    """`url_for(endpoint, **values)` for an address that depends on nothing but its arguments
    and where the app is mounted (a static file, a page of the menu): built once per app, not
    on every page. Only for arguments written in templates, never for a visitor's input."""
    urls: dict[tuple, str] = current_app.extensions[FIXED_URLS]
    key = (endpoint, request.script_root, *values.items())
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return url


FIXED_URLS = "luffy_fixed_urls"


def register(app: Flask) -> None:
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["fixed_url"] = fixed_url
    app.extensions[FIXED_URLS] = {}
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["languages"] = app.config["LANGUAGES"]
    # In place of flask-babel's (installed with the i18n extension by babel.init_app).
    app.jinja_env.globals.update(
        _=template_gettext, gettext=template_gettext, ngettext=template_ngettext
    )
