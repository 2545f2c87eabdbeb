"""The ALTCHA bot check: proof-of-work challenges bound to an action, each solution used once.

A challenge is signed with a key derived from SECRET_KEY and its action, carries the action in
its signed data, and expires after a few minutes. The server picks the counter the client must
find (ALTCHA's deterministic mode), which bounds the work and lets a solution be checked by its
key signature instead of by redoing the work. A solution accepted once is remembered in Redis
until its challenge expires, so it cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import timedelta
from typing import Any

import altcha
import redis
from flask import current_app

from app.models.types import utcnow
from app.services.errors import N_, CaptchaInvalid, InvalidInput, Unavailable

ACTIONS = ("login", "register")
PAYLOAD_MAX_LENGTH = 4096
USED_PREFIX = "captcha_used:"


def _secret(purpose: str) -> bytes:
    """A key of its own for each purpose, derived from the app's SECRET_KEY."""
    return hmac.new(
        current_app.config["SECRET_KEY"].encode(), f"altcha:{purpose}".encode(), hashlib.sha256
    ).digest()


def new_challenge(action: str) -> dict[str, Any]:
    """A challenge for the widget, valid for `action` only (the `Challenge.to_dict()` form)."""
    if action not in ACTIONS:
        raise InvalidInput(fields={"action": f"One of: {', '.join(ACTIONS)}."})
    config = current_app.config
    lifetime = timedelta(seconds=config["CAPTCHA_EXPIRES_SECONDS"])
    challenge = altcha.create_challenge(
        algorithm=config["CAPTCHA_ALGORITHM"],
        cost=int(config["CAPTCHA_COST"]),
        counter=secrets.randbelow(int(config["CAPTCHA_MAX_NUMBER"]) + 1),
        expires_at=utcnow() + lifetime,
        data={"action": action},
        hmac_secret=_secret(f"challenge:{action}"),
        hmac_key_secret=_secret("derived-key"),
    )
    return challenge.to_dict()


def verify(action: str, payload: object) -> None:
    """Accept a solved challenge for `action` once; raise CaptchaInvalid for anything else.
    Does nothing when CAPTCHA_ENABLED is off."""
    if not current_app.config["CAPTCHA_ENABLED"]:
        return
    if not isinstance(payload, str) or not payload.strip():
        raise CaptchaInvalid(N_("Please complete the bot check."))
    if action not in ACTIONS or len(payload) > PAYLOAD_MAX_LENGTH:
        raise CaptchaInvalid()
    try:
        solved = altcha.Payload.from_base64(payload.strip())
        params = solved.challenge.parameters
        expires_at = params.expires_at
        if params.data != {"action": action} or type(expires_at) is not int:
            raise CaptchaInvalid()
        result = altcha.verify_solution(
            solved,
            _secret(f"challenge:{action}"),
            hmac_key_secret=_secret("derived-key"),
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError):
        raise CaptchaInvalid() from None
    seconds_left = expires_at - utcnow().timestamp()
    if result.expired or seconds_left <= 0:
        raise CaptchaInvalid(N_("The bot check has expired; please solve it again."))
    if not result.verified:
        raise CaptchaInvalid()
    _use_once(solved.challenge.signature, math.ceil(seconds_left))


def _use_once(signature: str, seconds_left: int) -> None:
    """Remember a solved challenge until it expires; refuse it if it was seen before."""
    try:
        first = current_app.extensions["redis_store"].client.set(
            USED_PREFIX + signature, "1", nx=True, ex=max(1, seconds_left)
        )
    except redis.RedisError as exc:
        raise Unavailable() from exc  # without Redis a replay could not be told apart
    if not first:
        raise CaptchaInvalid(N_("This bot check was already used; please solve it again."))
