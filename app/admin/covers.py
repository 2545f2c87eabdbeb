"""A product's cover on the staff pages: uploaded through the image pipeline
(app/services/uploads.py: checked, re-encoded, stored under a random name), shown as a picture
in the lists, detail pages and the form, never typed as a path."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from wtforms import FileField
from wtforms.validators import StopValidation

from app.blueprints.media.routes import refusal_text
from app.services import uploads
from app.services.errors import DomainError


class CoverWidget:
    """The current cover (if any), then the file input, accepting only what the pipeline keeps."""

    def __call__(self, field: CoverField, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        current = field.current
        preview = (
            Markup('<img class="cover-preview d-block mb-2" src="{}" alt="{}">').format(
                current, field.label.text
            )
            if current
            else Markup("")
        )
        klass = (kwargs.pop("class", "") or "").replace("form-control", "").strip()
        return preview + Markup(
            '<input type="file" name="{}" id="{}" class="form-control-file {}" '
            'accept="image/jpeg,image/png,image/webp">'
        ).format(field.name, kwargs["id"], klass)


class CoverField(FileField):
    """An optional new cover. Validating it stores it (`stored_url`); a refused image is the
    field's message. Left empty, the product keeps its cover."""

    widget = CoverWidget()

    def __init__(self, label: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault(
            "description", _l("JPEG, PNG or WebP. Leave empty to keep the current cover.")
        )
        super().__init__(label or _l("Cover image"), **kwargs)
        self.current = ""
        self.stored_url: str | None = None

    def pre_validate(self, form: Any) -> None:
        upload = self.data
        if not getattr(upload, "filename", None):
            return
        try:
            name = uploads.save_image(upload)
        except DomainError as exc:
            raise StopValidation(refusal_text(exc.slug)) from None
        self.stored_url = url_for("media.uploaded_image", name=name)


def show_cover(form: Any, obj: Any, attribute: str = "course_img") -> Any:
    """The form showing the product's current cover above its upload field."""
    if obj is not None and "cover" in form:
        form.cover.current = getattr(obj, attribute, "") or ""
    return form


def take_cover(form: Any, model: Any, attribute: str = "course_img") -> None:
    """Put an uploaded cover on the product (`on_model_change`)."""
    stored = getattr(getattr(form, "cover", None), "stored_url", None)
    if stored:
        setattr(model, attribute, stored)


def cover_thumbnail(view: Any, context: Any, model: Any, name: str) -> Markup:
    """A column formatter: the picture, small, with the product's name as its text."""
    src = getattr(model, name, "") or ""
    if not src:
        return Markup("")
    return Markup('<img class="cover-thumb" src="{}" alt="{}" loading="lazy">').format(
        src, getattr(model, "name", "")
    )
