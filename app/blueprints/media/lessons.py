"""`GET /media/<token>`: a lesson video for the student (or visitor) its signed URL was made for.

The token (app/services/media.py) names the section, the file, whom it is for and until when.
The file is sent with ranges, 304s and 416s by Werkzeug (`send_file(conditional=True)`), or,
when MEDIA_ACCEL_REDIRECT is set, handed to nginx with `X-Accel-Redirect` (an `internal`
location serving MEDIA_FOLDER), which then does the ranges. Every refusal is a 403 with no
body worth caching: a bad, expired or revoked token, another student's or browser's URL.

A visitor's URL is bound to a random id held in the `lesson_visitor` cookie (HttpOnly, only
the id, nothing stored on the server): copied to another browser it is refused.
"""

from __future__ import annotations

from flask import abort, after_this_request, current_app, request, send_file
from flask_login import current_user

from app.blueprints.media import bp
from app.models.types import utcnow
from app.services import learning, media
from app.services.errors import DomainError, Forbidden

NO_STORE = "private, no-store"


def _cookie_visitor_id() -> str | None:
    value = request.cookies.get(media.VISITOR_COOKIE, "")
    return value if media.VISITOR_ID.fullmatch(value) else None


def visitor_id_for_link() -> str:
    """The visitor id a new media URL is bound to: the browser's, or a new one that this
    answer gives it in the lesson_visitor cookie."""
    visitor = _cookie_visitor_id()
    if visitor is None:
        visitor = media.new_visitor_id()
        max_age = current_app.config["MEDIA_URL_TTL_SECONDS"]

        @after_this_request
        def _give_cookie(response):
            response.set_cookie(
                media.VISITOR_COOKIE,
                visitor,
                max_age=max_age,
                httponly=True,
                samesite="Lax",
                secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
            )
            return response

    return visitor


def _requester_user_id() -> int | None:
    if current_user.is_authenticated:
        return current_user.id
    if request.headers.get("Authorization"):  # an API client fetching with its token
        from app.blueprints.api.auth import current_api_user

        try:
            return current_api_user().id
        except DomainError:  # an unknown or revoked token is simply nobody
            return None
    return None


@bp.get("/media/<token>")
def lesson_media(token: str):
    now = utcnow()
    try:
        claim = media.read_token(token, now)
    except Forbidden:
        abort(403)
    if not learning.claim_still_good(claim, _requester_user_id(), _cookie_visitor_id(), now):
        abort(403)
    path = media.media_path(claim.file)
    if path is None:
        abort(404)
    content_type = media.content_type_of(claim.file)
    accel = current_app.config.get("MEDIA_ACCEL_REDIRECT")
    if accel:
        response = current_app.response_class(status=200, mimetype=content_type)
        response.headers["X-Accel-Redirect"] = f"{accel}{claim.file}"
    else:
        response = send_file(path, mimetype=content_type, conditional=True, etag=True)
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
