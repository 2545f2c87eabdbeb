"""Users: the username and password rules, argon2id hashing, signing in, changing a password."""

from __future__ import annotations

import contextlib
import functools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.types import utcnow
from app.services.errors import N_, Conflict, InvalidInput, Unauthorized

USERNAME_MIN, USERNAME_MAX = 3, 32
USERNAME_RE = re.compile(rf"[A-Za-z0-9_-]{{{USERNAME_MIN},{USERNAME_MAX}}}")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
EMAIL_MAX = 254

# argon2id at OWASP's minimum (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane): about
# 25 ms of CPU a login on this machine, against about 200 ms with argon2-cffi's defaults
# (64 MiB, 3 passes, 4 lanes), which capped a 2-core server at ~10 logins a second (bench/
# flash_sale.py). Hashes made with other parameters are made again at the next login
# (`verify_password`).
HASH_TIME_COST = 2
HASH_MEMORY_KIB = 19 * 1024
HASH_PARALLELISM = 1
hasher = PasswordHasher(
    time_cost=HASH_TIME_COST, memory_cost=HASH_MEMORY_KIB, parallelism=HASH_PARALLELISM
)

BAD_CREDENTIALS = N_("Wrong username or password.")
USERNAME_TAKEN = N_("That username is taken.")
WRONG_PASSWORD = N_("The current password is wrong.")
# The limits above, spelt out: a msgid is a fixed text (tests/unit/test_service_messages.py
# checks that each states the limit the code holds).
USERNAME_RULE = N_("3–32 characters: letters, digits, _ and -.")
PASSWORD_LENGTH = N_("8–128 characters.")
PASSWORD_IS_USERNAME = N_("The password must not be the username.")
EMAIL_TOO_LONG = N_("At most 254 characters.")


def username_problem(username: object) -> str | None:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        return USERNAME_RULE
    return None


def password_problem(password: object, username: object = None) -> str | None:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return PASSWORD_LENGTH
    if isinstance(username, str) and password.lower() == username.lower():
        return PASSWORD_IS_USERNAME
    return None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check a password; re-hash it when the hashing parameters have changed since."""
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username_key == username.lower()))


@functools.cache
def _dummy_password_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_credentials(username: str, password: str) -> User:
    """The active user with this username and password. An unknown user, a wrong password and a
    disabled user are refused alike, and take as long: an unknown user is checked against a
    dummy hash so that timing tells nothing either."""
    user = find_user(username)
    if user is None:
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_dummy_password_hash(), password)  # only its time matters
        raise Unauthorized(BAD_CREDENTIALS, slug="invalid_credentials")
    if not verify_password(user, password) or not user.active:
        raise Unauthorized(BAD_CREDENTIALS, slug="invalid_credentials")
    return user


def sign_in(username: str, password: str) -> User:
    """Check the credentials and note the login: what both the API and the pages do first."""
    user = check_credentials(username, password)
    user.last_login_at = utcnow()
    return user


def create_user(username: str, password: str, *, email: str = "", is_staff: bool = False) -> User:
    fields = {}
    if problem := username_problem(username):
        fields["username"] = problem
    if problem := password_problem(password, username):
        fields["password"] = problem
    if not isinstance(email, str) or len(email) > EMAIL_MAX:
        fields["email"] = EMAIL_TOO_LONG
    if fields:
        raise InvalidInput(fields=fields)
    if find_user(username) is not None:
        raise Conflict(USERNAME_TAKEN, slug="username_taken")
    user = User(username=username, email=email, password_hash=hash_password(password))
    user.is_staff = is_staff
    db.session.add(user)
    db.session.flush()
    return user


def set_staff_user(username: str, password: str, *, email: str = "") -> tuple[User, bool]:
    """Create a staff user, or promote an existing one and give it this password."""
    user = find_user(username)
    if user is None:
        return create_user(username, password, email=email, is_staff=True), True
    if problem := password_problem(password, username):
        raise InvalidInput(fields={"password": problem})
    user.password_hash = hash_password(password)
    user.is_staff = True
    user.active = True
    if email:
        user.email = email
    db.session.flush()
    return user, False


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Give `user` a new password after checking the current one. Every other session ends (the
    session generation moves on) and every API token is revoked."""
    if not isinstance(current_password, str) or not verify_password(user, current_password):
        raise InvalidInput(fields={"current_password": WRONG_PASSWORD})
    if problem := password_problem(new_password, user.username):
        raise InvalidInput(fields={"new_password": problem})
    user.password_hash = hash_password(new_password)
    end_sessions(user)


def reset_password(user: User, new_password: str) -> None:
    """Give `user` a new password chosen by staff (no current password asked), under the same
    rules as any other; every session of the user and every API token ends."""
    if problem := password_problem(new_password, user.username):
        raise InvalidInput(fields={"new_password": problem})
    user.password_hash = hash_password(new_password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every session of `user` (the session generation moves on, so no old session cookie
    signs anyone in) and revoke every API token: after a password change, a reset or a
    deactivation. The caller's own session, if it is the user's, may start again afterwards."""
    from app.services import tokens  # tokens build on this module, hence imported here

    user.session_generation = (user.session_generation or 0) + 1
    db.session.flush()
    tokens.revoke_all_tokens(user)


def change_email(user: User, current_password: str, email: str) -> None:
    """Give `user` another email address (or none) after checking the password."""
    if not isinstance(current_password, str) or not verify_password(user, current_password):
        raise InvalidInput(fields={"current_password": WRONG_PASSWORD})
    if not isinstance(email, str) or len(email) > EMAIL_MAX:
        raise InvalidInput(fields={"email": EMAIL_TOO_LONG})
    user.email = email
    db.session.flush()
