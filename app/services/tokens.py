"""API tokens: issued at login, kept only as their SHA-256, checked cache-first, revocable."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from datetime import datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import select, update

from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow
from app.services import accounts
from app.services.errors import N_, Unauthorized, Unavailable

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(days=14)
# Redis holds a token for what remains of its life, but never longer than this at a time.
CACHE_LIFETIME = timedelta(days=7)
KEY_MAX_LENGTH = 128  # token_urlsafe(32) is 43 characters; anything much longer is not ours

CACHE_PREFIX = "token:"
REVOKED_PREFIX = "token_revoked:"
USER_TOKENS_PREFIX = "user_tokens:"


def _redis() -> redis.Redis:
    return current_app.extensions["redis_store"].client


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(1, int((expires_at - now).total_seconds()))


def _refused() -> Unauthorized:
    return Unauthorized(N_("The token is unknown, expired or revoked."), slug="unauthorized")


# --- issuing ------------------------------------------------------------------------------------


def issue_token(user: User) -> tuple[str, ApiToken]:
    """A new token for `user`: the key (shown once, to the client) and its stored row."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user_id=user.id, key_hash=hash_key(key), created_at=now, expires_at=now + TOKEN_LIFETIME
    )
    db.session.add(token)
    db.session.flush()
    return key, token


def log_in(username: str, password: str) -> tuple[str, ApiToken]:
    """Check the credentials, note the login and issue a token."""
    return issue_token(accounts.sign_in(username, password))


# --- checking -----------------------------------------------------------------------------------


def authenticate_token(key: object) -> User:
    """The active user a live token belongs to: from Redis when cached, else from the database
    (and then cached). Unknown, expired and revoked tokens are refused."""
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX_LENGTH:
        raise _refused()
    key_hash = hash_key(key)
    now = utcnow()
    try:
        user_id = _cached_user_id(key_hash, now)
    except redis.RedisError as exc:  # one line: during an outage every request says it
        log.warning("token cache unreadable (%s); checking the database", exc)
        return _user_from_database(key_hash, now, fill_cache=False)
    if user_id is None:
        return _user_from_database(key_hash, now, fill_cache=True)
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise _refused()
    return user


def _cached_user_id(key_hash: str, now: datetime) -> int | None:
    """The user id cached for a token; None when not cached. Raises for a revoked or expired
    token even though Redis still holds it."""
    client = _redis()
    pipe = client.pipeline(transaction=False)
    pipe.get(CACHE_PREFIX + key_hash)
    pipe.exists(REVOKED_PREFIX + key_hash)
    cached, revoked = pipe.execute()
    if revoked:
        client.delete(CACHE_PREFIX + key_hash)
        raise _refused()
    if cached is None:
        return None
    try:
        entry = json.loads(cached)
        user_id, expires_at = int(entry["user_id"]), float(entry["expires_at"])
    except (ValueError, TypeError, KeyError):
        client.delete(CACHE_PREFIX + key_hash)
        return None
    if expires_at <= now.timestamp():
        client.delete(CACHE_PREFIX + key_hash)
        raise _refused()
    return user_id


def _user_from_database(key_hash: str, now: datetime, *, fill_cache: bool) -> User:
    row = db.session.execute(
        select(ApiToken, User)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.key_hash == key_hash)
    ).first()
    if row is None:
        raise _refused()
    token, user = row
    if token.revoked_at is not None or token.expires_at <= now or not user.active:
        raise _refused()
    if fill_cache:
        _cache_token(token, now)
    return user


def _cache_token(token: ApiToken, now: datetime) -> None:
    """Cache a token read from the database. A revocation that committed between that read and
    this write has left its mark in Redis: the entry is taken back and the token refused, so a
    slow request cannot bring a revoked token back to life."""
    entry = json.dumps({"user_id": token.user_id, "expires_at": token.expires_at.timestamp()})
    ttl = min(_seconds_left(token.expires_at, now), int(CACHE_LIFETIME.total_seconds()))
    user_set = f"{USER_TOKENS_PREFIX}{token.user_id}"
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.set(CACHE_PREFIX + token.key_hash, entry, ex=ttl)
        pipe.sadd(user_set, token.key_hash)
        pipe.expire(user_set, int(CACHE_LIFETIME.total_seconds()))
        pipe.exists(REVOKED_PREFIX + token.key_hash)
        *_, revoked = pipe.execute()
        if revoked:
            _redis().delete(CACHE_PREFIX + token.key_hash)
    except redis.RedisError as exc:
        log.warning("could not cache a token (%s)", exc)
        return
    if revoked:
        raise _refused()


# --- revoking -----------------------------------------------------------------------------------


def revoke_token(key: str) -> None:
    """Revoke one token (logout). Marked revoked in Redis at once, as well as in the database,
    so that no cached copy, present or future, is trusted again."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.key_hash == hash_key(key)))
    if token is None:
        raise _refused()
    now = utcnow()
    if token.revoked_at is None:
        token.revoked_at = now
        db.session.flush()
    _forget_in_cache(token.user_id, [(token.key_hash, token.expires_at)], now)


def revoke_all_tokens(user: User) -> int:
    """Revoke every token of `user` (a password change); answers how many it revoked."""
    now = utcnow()
    revoked = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Read after the update, so that a token made by a login that committed meanwhile (and
    # revoked by the update) is marked in Redis too.
    marked = db.session.execute(
        select(ApiToken.key_hash, ApiToken.expires_at).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_not(None), ApiToken.expires_at > now
        )
    ).all()
    db.session.flush()
    _forget_in_cache(user.id, [(h, exp) for h, exp in marked], now, whole_user=True)
    return revoked


def _forget_in_cache(
    user_id: int, tokens: list[tuple[str, datetime]], now: datetime, *, whole_user: bool = False
) -> None:
    """Delete cached tokens and leave a revocation mark for the rest of each one's life."""
    user_set = f"{USER_TOKENS_PREFIX}{user_id}"
    try:
        client = _redis()
        cached = set(client.smembers(user_set)) if whole_user else set()
        pipe = client.pipeline(transaction=True)
        for key_hash, expires_at in tokens:
            if expires_at > now:
                pipe.set(REVOKED_PREFIX + key_hash, "1", ex=_seconds_left(expires_at, now))
            pipe.delete(CACHE_PREFIX + key_hash)
            pipe.srem(user_set, key_hash)
        for key_hash in cached:
            pipe.delete(CACHE_PREFIX + key_hash)
        if whole_user:
            pipe.delete(user_set)
        pipe.execute()
    except redis.RedisError as exc:
        # Without Redis a cached copy could outlive the revocation: refuse to revoke half-way.
        raise Unavailable() from exc
