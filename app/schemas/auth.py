"""Schemas of accounts: registering, logging in, the bot check, and what they answer; and the
one place those answers are shaped."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StrictStr, StringConstraints, WithJsonSchema

from app.models import ApiToken, User
from app.schemas.base import Out, Schema
from app.services.accounts import (
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    USERNAME_MIN,
)
from app.services.captcha import PAYLOAD_MAX_LENGTH


def _email_or_blank(value: str) -> str:
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("Not a valid email address.") from None


# The username and password rules themselves live in services.accounts; these bounds only keep
# absurd input (a megabyte of username) from reaching them.
Username = Annotated[StrictStr, Field(min_length=1, max_length=32, examples=["demo"])]
# Passwords are taken exactly as typed: no stripping of spaces.
Password = Annotated[
    StrictStr, StringConstraints(strip_whitespace=False, min_length=1, max_length=PASSWORD_MAX)
]
# A new account's: as CONTRACT.md says and services.accounts checks, exactly as sent.
NewUsername = Annotated[
    StrictStr,
    StringConstraints(
        strip_whitespace=False,
        min_length=USERNAME_MIN,
        max_length=USERNAME_MAX,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
    Field(examples=["demo"], description="3–32 letters, digits, _ or -; unique, whatever the case"),
]
NewPassword = Annotated[
    StrictStr,
    StringConstraints(strip_whitespace=False, min_length=PASSWORD_MIN, max_length=PASSWORD_MAX),
    Field(description="8–128 characters, not the username"),
]
Email = Annotated[
    StrictStr,
    Field(max_length=EMAIL_MAX),
    AfterValidator(_email_or_blank),
    # An address (checked by email-validator), or "" for none.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "email", "maxLength": EMAIL_MAX},
                {"type": "string", "maxLength": 0},
            ]
        }
    ),
]
CaptchaPayload = Annotated[
    StrictStr,
    Field(max_length=PAYLOAD_MAX_LENGTH, description="the solved ALTCHA payload (base64)"),
]


class RegisterIn(Schema):
    username: NewUsername
    password: NewPassword
    email: Email | None = None
    captcha: CaptchaPayload | None = None


class LoginIn(Schema):
    username: Username
    password: Password
    captcha: CaptchaPayload | None = None


class CaptchaQuery(Schema):
    action: Literal["login", "register"]


class UserOut(Out):
    id: int
    username: str
    email: str


class TokenOut(Out):
    token: str
    username: str
    expires_at: Annotated[
        str,
        Field(
            pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$",
            description="ISO 8601 in UTC",
        ),
    ]


class ChallengeParametersOut(Out):
    algorithm: str
    nonce: str
    salt: str
    cost: int
    keyLength: int
    keyPrefix: str
    keySignature: str | None = None
    memoryCost: int | None = None
    parallelism: int | None = None
    expiresAt: int | None = Field(None, description="Unix time")
    data: dict[str, Any] | None = None


class ChallengeOut(Out):
    """An ALTCHA v2 challenge, as the widget expects it."""

    parameters: ChallengeParametersOut
    signature: str


class MeUserOut(Out):
    id: int
    username: str


class MeOut(Out):
    user: MeUserOut | None = Field(description="the signed-in user; null for a visitor")
    cart_count: int = Field(ge=0, description="lines in the cart (a visitor's: their session's)")


# --- shapes -----------------------------------------------------------------------------------


def user_dict(user: User) -> dict[str, Any]:
    """A new account (`UserOut`)."""
    return {"id": user.id, "username": user.username, "email": user.email}


def token_dict(key: str, token: ApiToken) -> dict[str, Any]:
    """A login's token (`TokenOut`): the key itself is shown this once."""
    return {
        "token": key,
        "username": token.user.username,
        "expires_at": token.expires_at.isoformat(),
    }


def me_dict(user: User | None, cart_count: int) -> dict[str, Any]:
    """Who is signed in and their cart's size (`MeOut`)."""
    return {
        "user": None if user is None else {"id": user.id, "username": user.username},
        "cart_count": cart_count,
    }
