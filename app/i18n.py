"""Language choice (a switch, then the browser's language, then Chinese), the templates'
gettext, and period wording."""

from __future__ import annotations

import functools

from babel import Locale
from babel.support import NullTranslations
from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import get_locale, get_translations, ngettext
from flask_babel import gettext as _
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

LANG_COOKIE = "lang"
_TRANSLATIONS = "_luffy_translations"  # on `g`: (the locale, its translations)


def supported() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


@functools.cache
def _locale(code: str) -> Locale:
    # Parsed once per language (only supported ones ever get here): flask-babel takes it as is.
    return Locale.parse(code)


@functools.lru_cache(maxsize=256)
def _browser_language(accept_language: str, choices: tuple[str, ...], default: str) -> str:
    # Browsers send a handful of distinct headers: each is parsed once, not on every request.
    return parse_accept_header(accept_language, LanguageAccept).best_match(choices, default)


def select_locale() -> Locale:
    """The visitor's language: `?lang=`, then the switch's cookie, then Accept-Language."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return _locale(default)
    choices = supported()
    asked = request.args.get("lang") if request.query_string else None  # no parsing for none
    for chosen in (asked, request.cookies.get(LANG_COOKIE)):
        if chosen in choices:
            return _locale(chosen)
    header = request.headers.get("Accept-Language", "")
    return _locale(_browser_language(header, choices, default) if header else default)


def current_language() -> str:
    """The language's code alone ("zh", "en"), whatever territory or script the locale has."""
    locale = get_locale()
    if locale is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"].split("_")[0]
    return locale.language


# --- the templates' gettext ---------------------------------------------------------------------
#
# A page calls `_()` a few dozen times. Through flask-babel and Jinja's i18n extension each call
# goes through three context calls and looks the domain, the context and the locale's
# translations up again; these look the translations up once per app context and locale, and
# follow `force_locale` (which gives the context another locale while it lasts), so a page
# rendered in another language inside a request (the homepage's pre-render) is right.


def translations() -> NullTranslations:
    """flask-babel's translations for the locale in force."""
    if not has_app_context():
        return get_translations()
    locale = get_locale()
    held = g.get(_TRANSLATIONS)
    if held is None or held[0] is not locale:
        held = (locale, get_translations())
        setattr(g, _TRANSLATIONS, held)
    return held[1]


@pass_context
def template_gettext(context: Context, string: str, /, **variables: object) -> str:
    """`_()` and `gettext()` in templates, as Jinja's i18n extension has them (new style): the
    translation, marked safe where the template escapes, formatted with `variables`."""
    text = translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - the catalogue is ours, as in Jinja's own
    return text % variables


@pass_context
def template_ngettext(
    context: Context, singular: str, plural: str, num: int, /, **variables: object
) -> str:
    """`ngettext()` in templates, likewise; `num` is also a variable, as in Jinja's."""
    variables.setdefault("num", num)
    text = translations().ungettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - the catalogue is ours, as in Jinja's own
    return text % variables


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


def say(message: str) -> str:
    """A service's message (an English msgid marked with `N_` in app/services/errors.py) in the
    visitor's language: its translation, or the message as it is when the catalogue has none.

    What pages and staff pages show of a `DomainError`: its `message` and its `fields`' messages.
    The API answers with the English as it is and never calls this. No values are filled in, so
    a message may hold a bare `%` (`80 = pay 80%`)."""
    return _(message) if message else message
