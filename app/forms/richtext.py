"""`RichTextField`: a textarea that admin-richtext.js turns into the Quill editor; its data is
sanitised (app/richtext.py), so a form using it never holds unsafe markup.

Use it like any WTForms field (in Flask-Admin: `form_overrides = {"what_to_study":
RichTextField}`). It renders

    <textarea data-rich-text data-upload-url="/admin/uploads/images" ...>

and works as a plain textarea without JavaScript. A page showing it must include, besides the
`<meta name="csrf-token" content="{{ csrf_token() }}">` that the image upload sends back:

    <link rel="stylesheet" href="{{ url_for('static', filename='vendor/quill/quill.snow.css') }}">
    <script src="{{ url_for('static', filename='vendor/quill/quill.js') }}"></script>
    <script src="{{ url_for('static', filename='js/admin-richtext.js') }}"></script>

(the scripts at the end of the body, or with `defer`: admin-richtext.js looks for the textareas
when the document is ready, and for ones added later). No inline script or style is needed.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import Field, TextAreaField
from wtforms.validators import ValidationError
from wtforms.widgets import TextArea

from app.richtext import MAX_BYTES, sanitize, too_long

UPLOAD_ENDPOINT = "media.upload_image"


class RichTextArea(TextArea):
    """A textarea marked for the editor, telling it where images are uploaded."""

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        kwargs.setdefault("data-rich-text", True)
        kwargs.setdefault("data-upload-url", url_for(UPLOAD_ENDPOINT))
        kwargs.setdefault("rows", 12)
        return super().__call__(field, **kwargs)


class RichTextField(TextAreaField):
    """Rich text edited with the Quill editor; `data` is sanitised HTML ("" when empty)."""

    widget = RichTextArea()

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if valuelist:
            self.data = sanitize(self.data)

    def pre_validate(self, form: Any) -> None:
        if self.data and too_long(self.data):
            raise ValidationError(
                _l(
                    "The text is too long: at most %(size)d KB of HTML.",
                    size=MAX_BYTES // 1024,
                )
            )
