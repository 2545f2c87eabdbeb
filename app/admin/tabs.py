"""A long form in tabs (Bootstrap's, no script of ours): `Tabs(Tab("basics", _l("Basics"),
["name", ...]), ...)` as a view's `form_rules`. A field refused in a tab that is not shown opens
that tab (app/static/js/admin.js), so no message is ever hidden."""

from __future__ import annotations

from typing import Any

from flask_admin.form import rules
from markupsafe import Markup


class Tab(rules.NestedRule):
    def __init__(self, slug: str, title: Any, fields: list[Any]) -> None:
        super().__init__(fields)
        self.slug = slug
        self.title = title

    def __call__(self, form: Any, form_opts: Any = None, field_args: Any = None) -> Markup:
        inner = Markup(super().__call__(form, form_opts, field_args))  # noqa: S704 - Flask-Admin's rendered fields
        active = " show active" if self.first else ""
        return Markup(
            '<div class="tab-pane fade pt-3{}" id="tab-{}" role="tabpanel" '
            'aria-labelledby="tab-{}-link">{}</div>'
        ).format(active, self.slug, self.slug, inner)

    first = False


class Tabs(rules.NestedRule):
    def __init__(self, *tabs: Tab) -> None:
        super().__init__(list(tabs))
        tabs[0].first = True
        self.tabs = tabs

    @property
    def visible_fields(self) -> list[str]:
        # The CSRF token is rendered by the form's hidden_tag, outside any rule: it is not
        # "missing from the ruleset" (Flask-Admin warns about such fields).
        return [*super().visible_fields, "csrf_token"]

    def __call__(self, form: Any, form_opts: Any = None, field_args: Any = None) -> Markup:
        links = Markup("").join(
            Markup(
                '<li class="nav-item"><a class="nav-link{}" id="tab-{}-link" data-toggle="tab" '
                'href="#tab-{}" role="tab" aria-controls="tab-{}">{}</a></li>'
            ).format(" active" if tab.first else "", tab.slug, tab.slug, tab.slug, tab.title)
            for tab in self.tabs
        )
        panes = Markup(super().__call__(form, form_opts, field_args))  # noqa: S704 - the tabs above
        return Markup(
            '<ul class="nav nav-tabs form-tabs" role="tablist">{}</ul>'
            '<div class="tab-content mb-3">{}</div>'
        ).format(links, panes)
