"""Account endpoints (register, login, logout, the bot check) and the API's token check."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy.exc import IntegrityError
from wtforms import ValidationError

from app import unit_of_work
from app.blueprints.api import api
from app.models import User
from app.schemas.auth import (
    CaptchaQuery,
    ChallengeOut,
    LoginIn,
    RegisterIn,
    TokenOut,
    UserOut,
    token_dict,
    user_dict,
)
from app.security import limit_captcha, limit_login, limit_register
from app.services import accounts, captcha, tokens
from app.services.errors import Conflict, Forbidden, Unauthorized

TAGS = ["accounts"]
SCHEMES = {"token", "bearer"}
API_USER = "luffy.api_user"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWN_SITE = frozenset({"same-origin", "none"})  # what a browser says of this site's own requests


def request_token() -> str:
    """The key of `Authorization: Token <key>` (or `Bearer <key>`); anything else is a 401."""
    scheme, _, key = request.headers.get("Authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() not in SCHEMES or not key:
        raise Unauthorized()
    return key


def session_user() -> User | None:
    """The user signed in to the site's pages, for a page's own script calling the API with
    the session cookie (no `Authorization` header). A request that changes or computes
    anything (every method but GET/HEAD/OPTIONS) must carry the page's CSRF token in
    `X-CSRFToken`, as the page's forms do in a field: another site can make the browser send
    the cookie, never read the token. Only requests the browser marks as made by this site
    itself (`Sec-Fetch-Site`, as for `GET /me`) are read this way."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in OWN_SITE:
        return None  # another site's page: the cookie does not speak for its visitor
    if not current_user.is_authenticated:
        return None
    if request.method not in SAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        sent = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
        try:
            validate_csrf(sent)
        except ValidationError:
            raise Forbidden("The page's CSRF token is missing or wrong; reload the page.") from None
    return current_user._get_current_object()


def current_api_user() -> User:
    """Who is asking: the user of the request's token, or, without an `Authorization` header,
    the user signed in to the pages (`session_user`). Checked once per request."""
    # Kept in the request's environ, not in `g`: an app context can outlive one request.
    if API_USER not in request.environ:
        if "Authorization" not in request.headers and (user := session_user()) is not None:
            request.environ[API_USER] = user
        else:
            request.environ[API_USER] = tokens.authenticate_token(request_token())
    return request.environ[API_USER]


api.authenticate = current_api_user  # every `auth=True` route checks the token first


@api.route(
    "/auth/register",
    "POST",
    summary="Create an account (the bot check first, when it is on)",
    tags=TAGS,
    body=RegisterIn,
    response=UserOut,
    status=201,
    errors=(409, 413),
)
@limit_register
def register(body: RegisterIn):
    captcha.verify("register", body.captcha)
    try:
        return unit_of_work.run(
            lambda: user_dict(
                accounts.create_user(body.username, body.password, email=body.email or "")
            )
        )
    except IntegrityError:
        # Another request took the same username between the check and the insert.
        raise Conflict(accounts.USERNAME_TAKEN, slug="username_taken") from None


@api.route(
    "/auth/login",
    "POST",
    summary="Log in: a token valid for 14 days",
    tags=TAGS,
    body=LoginIn,
    response=TokenOut,
    errors=(401, 413),
)
@limit_login
def login(body: LoginIn):
    captcha.verify("login", body.captcha)

    def work() -> dict[str, Any]:
        return token_dict(*tokens.log_in(body.username, body.password))

    return unit_of_work.run(work)


@api.route(
    "/auth/logout",
    "POST",
    summary="Log out: revoke the token this request is made with",
    tags=TAGS,
    auth=True,
    security=[{"token": []}],  # the token itself is what is revoked: no page session
)
def logout():
    key = request_token()
    unit_of_work.run(lambda: tokens.revoke_token(key))
    return None


@api.route(
    "/captcha",
    summary="A bot-check challenge for the login or register form (ALTCHA)",
    tags=TAGS,
    query=CaptchaQuery,
    response=ChallengeOut,
)
@limit_captcha
def get_captcha(query: CaptchaQuery):
    return captcha.new_challenge(query.action)
