"""Users: the username and password rules, argon2id hashing, creating users."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.errors import Conflict, InvalidInput

USERNAME_RE = re.compile(r"[A-Za-z0-9_-]{3,32}")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
EMAIL_MAX = 254

hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def username_problem(username: object) -> str | None:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        return "3–32 characters: letters, digits, _ and -."
    return None


def password_problem(password: object, username: object = None) -> str | None:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"{PASSWORD_MIN}–{PASSWORD_MAX} characters."
    if isinstance(username, str) and password.lower() == username.lower():
        return "The password must not be the username."
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


def create_user(username: str, password: str, *, email: str = "", is_staff: bool = False) -> User:
    fields = {}
    if problem := username_problem(username):
        fields["username"] = problem
    if problem := password_problem(password, username):
        fields["password"] = problem
    if not isinstance(email, str) or len(email) > EMAIL_MAX:
        fields["email"] = "At most 254 characters."
    if fields:
        raise InvalidInput(fields=fields)
    if find_user(username) is not None:
        raise Conflict("That username is taken.", slug="username_taken")
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
