"""Signing in and out of the pages: the Redis session gets a new id at each change of user."""

from __future__ import annotations

from flask import current_app, session
from flask_login import login_user, logout_user

from app.models import User
from app.services import accounts
from app.services.cart import RedisCart, SessionCart, merge_visitor_cart


def _renew_session_id() -> None:
    """Delete the stored session and carry its content over under a fresh, random id, so that
    an id learnt before this moment (planted by an attacker, say) is worth nothing after it.
    Flask-Session 0.8's `regenerate` does this for a session that holds something."""
    current_app.session_interface.regenerate(session)


def start_session(user: User) -> None:
    """Sign `user` into this browser's session, under a new session id and CSRF token. What
    the visitor put in the cart joins the student's cart."""
    session.pop("csrf_token", None)  # a token seen before the login is not used after it
    merge_visitor_cart(SessionCart(session), RedisCart(user.id))
    login_user(user)
    session.permanent = True  # lives PERMANENT_SESSION_LIFETIME, not "until the browser closes"
    _renew_session_id()


def log_in(username: str, password: str) -> User:
    """Check the credentials (alike refusals for an unknown user, a wrong password and a
    disabled user), note the login and sign the user into a new session."""
    user = accounts.sign_in(username, password)
    start_session(user)
    return user


def end_session() -> None:
    """Log out: the stored session is deleted, so its id (the old cookie) is worth nothing."""
    _renew_session_id()  # deletes what Redis held under the old id
    logout_user()
    session.clear()  # an empty session is not stored again, and its cookie is deleted


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change the password: every other session and API token ends, this session goes on
    under the new session generation and a new id."""
    accounts.change_password(user, current_password, new_password)
    start_session(user)
