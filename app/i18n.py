"""Language choice (a switch, then the browser's language, then Chinese) and period wording."""

from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

LANG_COOKIE = "lang"


def supported() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """The visitor's language: `?lang=`, then the switch's cookie, then Accept-Language."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    for chosen in (request.args.get("lang"), request.cookies.get(LANG_COOKIE)):
        if chosen in supported():
            return chosen
    return request.accept_languages.best_match(
        supported(), default=current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def current_language() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]).split("_")[0]


def period_text(days: int) -> str:
    """A policy's period in its largest whole unit: years, months (30 days), weeks or days."""
    if days == 0:
        return _("Forever")
    # Literal msgids in each call, so that pybabel extracts every one of them.
    if days % 365 == 0:
        return ngettext("%(num)d year", "%(num)d years", days // 365)
    if days % 30 == 0:
        return ngettext("%(num)d month", "%(num)d months", days // 30)
    if days % 7 == 0:
        return ngettext("%(num)d week", "%(num)d weeks", days // 7)
    return ngettext("%(num)d day", "%(num)d days", days)
