"""The templates' gettext (app/i18n.py): Jinja's new-style gettext, with the translations looked
up once per locale, following force_locale (the homepage renders each language this way)."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale, refresh

from app.i18n import template_gettext

PAGE = (
    '{{ _("Courses") }}|{{ ngettext("%(num)d course found", "%(num)d courses found", 3) }}'
    '|{{ _("matching “%(q)s”", q=query) }}|{{ gettext("100%% free") }}'
)


def render(query: str = "<b>") -> str:
    return render_template_string(PAGE, query=query)


def test_a_template_translates_escapes_and_formats(app):
    assert app.jinja_env.globals["_"] is template_gettext
    with app.test_request_context("/?lang=zh"):
        courses, found, matching, literal = render().split("|")
    assert courses == "课程"
    assert "3" in found
    assert "course" not in found
    assert matching == "匹配“&lt;b&gt;”"  # the variable escaped, the text not
    assert literal == "100% free"  # new style: always a format string


def test_force_locale_switches_the_templates_language_and_back(app):
    with app.test_request_context("/?lang=zh"):
        before = render()
        with force_locale("en"):
            inside = render()
        after = render()
    assert before.startswith("课程|")
    assert inside.startswith("Courses|3 courses found|matching “&lt;b&gt;”")
    assert after == before


def test_a_refreshed_locale_is_followed(app):
    with app.test_request_context("/?lang=zh"):
        assert render().startswith("课程|")
        with app.test_request_context("/?lang=en"):
            refresh()  # the language chosen again, as after a switch
            assert render().startswith("Courses|")
