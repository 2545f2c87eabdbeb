"""Jinja filters and globals shared by every page."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request, session, url_for
from redis.exceptions import RedisError

from app.i18n import current_language, period_text, template_gettext, template_ngettext
from app.money import money_label

log = logging.getLogger(__name__)


def duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_label(moment: datetime) -> str:
    """The offset a shown time is in, readable in any language: `UTC+8`, `UTC-3:30`, `UTC`."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def to_display_zone(moment: datetime) -> datetime:
    """An aware UTC time (as every model gives) in `DISPLAY_TIMEZONE`; a naive one is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(_zone(current_app.config["DISPLAY_TIMEZONE"]))


def local_time(
    moment: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M", zone: bool = True
) -> str:
    """A time as people read it: in `DISPLAY_TIMEZONE`, to the minute, labelled with its
    offset (`2026-12-03 15:07 UTC+8`); `zone=False` leaves the label to a column heading.
    `moment` may also be the ISO 8601 text of the API's shapes (`2026-12-03T07:07:00+00:00`)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    shown = to_display_zone(moment)
    text = shown.strftime(fmt)
    return f"{text} {zone_label(shown)}" if zone else text


def display_zone() -> str:
    """The label of `DISPLAY_TIMEZONE` now, for a column heading (`UTC+8`)."""
    return zone_label(to_display_zone(datetime.now(tz=ZoneInfo("UTC"))))


def header_cart_count() -> int | None:
    """How many lines the asker's cart holds, for the header's cart link: a signed-in student's
    (Redis), a visitor's (their session; none read or made when they have none). None when it
    cannot be read: the header then shows no number rather than failing the page."""
    from flask_login import current_user

    from app.services import cart

    try:
        if current_user and current_user.is_authenticated:
            return len(cart.RedisCart(current_user.id).lines())
        return len(cart.SessionCart(session).lines())
    except RedisError:
        log.warning("the header's cart count could not be read", exc_info=True)
        return None


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
    app.jinja_env.filters["money"] = money_label
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["local_time"] = local_time
    # A period in days as the page's language says it (`1 month`, `1个月`, `Forever`).
    app.jinja_env.filters["period_text"] = period_text
    app.jinja_env.globals["display_zone"] = display_zone
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["header_cart_count"] = header_cart_count
    app.jinja_env.globals["fixed_url"] = fixed_url
    app.extensions[FIXED_URLS] = {}
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["languages"] = app.config["LANGUAGES"]
    # In place of flask-babel's (installed with the i18n extension by babel.init_app).
    app.jinja_env.globals.update(
        _=template_gettext, gettext=template_gettext, ngettext=template_ngettext
    )
