"""`GET /uploads/<name>` serves a stored image; `POST /admin/uploads/images` stores one (staff).

The upload answers JSON for the editor (app/static/js/admin-richtext.js): `{"url": ...}`, 201,
or `{"error": slug, "message": text}` with the status, for every refusal, including a missing
CSRF token (sent in the `X-CSRFToken` header) and a body over the limit.
"""

from __future__ import annotations

from flask import Response, abort, current_app, jsonify, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from app.blueprints.media import bp
from app.services import uploads
from app.services.errors import DomainError

UPLOAD_ENDPOINT = "media.upload_image"
# Stored names are random and never reused, so a browser may keep an image for a year.
IMAGE_MAX_AGE = 365 * 24 * 3600
# Room in a multipart body for its boundaries, part headers and the CSRF field besides the file.
MULTIPART_OVERHEAD = 64 * 1024


@bp.get("/uploads/<name>")
def uploaded_image(name: str) -> Response:
    if not uploads.is_stored_name(name):
        abort(404)
    response = send_from_directory(
        uploads.upload_folder(),
        name,
        mimetype=uploads.MIMETYPES[name.rsplit(".", 1)[1]],
        max_age=IMAGE_MAX_AGE,
    )
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.url_value_preprocessor
def _bound_the_upload_body(endpoint: str | None, _values: dict | None) -> None:
    # Runs before every before_request function, so before CSRFProtect reads the form: a body
    # larger than an image may be is refused (413) without being read.
    if endpoint == UPLOAD_ENDPOINT:
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"] + MULTIPART_OVERHEAD
        request.max_form_parts = 8


@bp.post("/admin/uploads/images")
def upload_image():
    if not current_user.is_authenticated:
        return refusal(401, "unauthorized", _("Please sign in."))
    if not current_user.is_staff:
        return refusal(403, "forbidden", _("Only staff may upload images."))
    try:
        name = uploads.save_image(request.files.get("image"))
    except DomainError as exc:
        return refusal(exc.status, exc.slug, refusal_text(exc.slug))
    return jsonify(url=url_for(".uploaded_image", name=name)), 201


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError):
    return refusal(400, "csrf_invalid", _("The page has expired; reload it and try again."))


@bp.errorhandler(RequestEntityTooLarge)
def body_too_large(exc: RequestEntityTooLarge):
    return refusal(413, "image_too_large", refusal_text("image_too_large"))


def refusal(status: int, slug: str, message: str):
    return jsonify(error=slug, message=message), status


def refusal_text(slug: str) -> str:
    """The editor's words for a refused upload, in the staff member's language."""
    config = current_app.config
    if slug == "image_too_large":
        return _(
            "The image is too large: at most %(size)s.", size=size_text(config["UPLOAD_MAX_BYTES"])
        )
    if slug == "image_too_many_pixels":
        return _(
            "The image is too large: at most %(pixels)s million pixels.",
            pixels=f"{config['UPLOAD_MAX_PIXELS'] / 1_000_000:g}",
        )
    if slug == "no_image":
        return _("Choose an image to upload.")
    return _("Only JPEG, PNG or WebP images can be uploaded.")


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{size / 1024:.3g} KB"
