"""API tokens: hashed at rest, checked cache-first, refused once expired or revoked."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken
from app.models.types import utcnow
from app.services import tokens
from app.services.errors import Unauthorized, Unavailable
from tests.factories import UserFactory

WEEK = 7 * 24 * 3600


@pytest.fixture
def store(app):
    return app.extensions["redis_store"].client


def issued(user=None):
    user = user or UserFactory()
    key, token = tokens.issue_token(user)
    db.session.commit()
    return key, token


def cache_key(key: str) -> str:
    return "token:" + hashlib.sha256(key.encode()).hexdigest()


def test_a_token_is_random_and_kept_only_as_its_sha256(app):
    key, token = issued()
    other, _ = issued()
    assert key != other
    assert len(key) >= 43
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    row = db.session.execute(select(ApiToken.__table__).where(ApiToken.id == token.id)).one()
    assert all(key not in str(value) for value in row)
    assert token.expires_at - token.created_at == timedelta(days=14)
    assert token.expires_at.utcoffset() == timedelta(0)


def test_the_first_check_reads_the_database_and_caches_for_at_most_a_week(app, store):
    key, token = issued()
    assert store.get(cache_key(key)) is None
    assert tokens.authenticate_token(key).id == token.user_id
    cached = json.loads(store.get(cache_key(key)))
    assert cached["user_id"] == token.user_id
    assert WEEK - 60 < store.ttl(cache_key(key)) <= WEEK
    assert store.sismember(f"user_tokens:{token.user_id}", token.key_hash)


def test_a_token_near_its_end_is_cached_only_for_what_remains(app, store):
    key, token = issued()
    token.expires_at = utcnow() + timedelta(hours=2)
    db.session.commit()
    tokens.authenticate_token(key)
    assert 2 * 3600 - 60 < store.ttl(cache_key(key)) <= 2 * 3600


def test_a_cached_token_is_checked_without_reading_the_tokens_table(app, count_queries):
    key, _ = issued()
    tokens.authenticate_token(key)
    db.session.expire_all()
    with count_queries() as counter:
        tokens.authenticate_token(key)
    assert not [s for s in counter.statements if "api_tokens" in s]


def test_a_token_past_14_days_is_refused_even_while_cached(app, store, monkeypatch):
    key, _ = issued()
    tokens.authenticate_token(key)
    assert store.exists(cache_key(key))
    later = utcnow() + timedelta(days=14, seconds=1)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)
    with pytest.raises(Unauthorized) as refused:
        tokens.authenticate_token(key)
    assert refused.value.code == 1003
    assert refused.value.slug == "unauthorized"
    assert not store.exists(cache_key(key))
    with pytest.raises(Unauthorized):  # and from the database as well
        tokens.authenticate_token(key)


def test_a_token_expired_in_the_database_is_refused(app):
    key, token = issued()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)


def test_a_revoked_token_is_refused_at_once_even_if_cached(app, store):
    key, token = issued()
    tokens.authenticate_token(key)
    tokens.revoke_token(key)
    db.session.commit()
    assert not store.exists(cache_key(key))
    assert db.session.get(ApiToken, token.id).revoked_at is not None
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)


def test_a_stale_cache_entry_written_after_the_revocation_is_not_trusted(app, store):
    key, token = issued()
    tokens.revoke_token(key)
    db.session.commit()
    # A request that read the token before the revocation writes the cache only now.
    entry = {"user_id": token.user_id, "expires_at": token.expires_at.timestamp()}
    store.set(cache_key(key), json.dumps(entry), ex=WEEK)
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)


def test_a_fill_racing_a_revocation_does_not_bring_the_token_back(app, store, monkeypatch):
    key, _ = issued()
    fill = tokens._cache_token

    def revoked_meanwhile(token, now):
        with app.app_context():  # the logout request, committing between our read and write
            tokens.revoke_token(key)
            db.session.commit()
        fill(token, now)

    monkeypatch.setattr(tokens, "_cache_token", revoked_meanwhile)
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)
    monkeypatch.undo()
    assert not store.exists(cache_key(key))
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)


def test_revoke_all_tokens_kills_every_token_of_the_user(app, store):
    user = UserFactory()
    keys = [issued(user)[0] for _ in range(3)]
    other_key, _ = issued()
    for key in [*keys[:2], other_key]:
        tokens.authenticate_token(key)
    assert tokens.revoke_all_tokens(user) == 3
    db.session.commit()
    for key in keys:
        assert not store.exists(cache_key(key))
        with pytest.raises(Unauthorized):
            tokens.authenticate_token(key)
    assert not store.exists(f"user_tokens:{user.id}")
    assert tokens.authenticate_token(other_key).id != user.id  # another user's lives on
    assert tokens.revoke_all_tokens(user) == 0


def test_a_disabled_user_is_refused_even_with_a_cached_token(app):
    user = UserFactory()
    key, _ = issued(user)
    tokens.authenticate_token(key)
    user.active = False
    db.session.commit()
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)


@pytest.mark.parametrize("key", [None, "", 42, "x" * 200, "no-such-token"])
def test_garbage_keys_are_refused(app, key):
    with pytest.raises(Unauthorized):
        tokens.authenticate_token(key)


def test_an_unreadable_cache_entry_falls_back_to_the_database(app, store):
    key, token = issued()
    store.set(cache_key(key), "not json", ex=60)
    assert tokens.authenticate_token(key).id == token.user_id
    assert json.loads(store.get(cache_key(key)))["user_id"] == token.user_id


def test_without_redis_tokens_are_checked_in_the_database_but_not_revoked(app, monkeypatch):
    key, token = issued()
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(tokens, "_redis", lambda: dead)
    assert tokens.authenticate_token(key).id == token.user_id
    with pytest.raises(Unavailable):
        tokens.revoke_token(key)
    db.session.rollback()
    assert db.session.get(ApiToken, token.id).revoked_at is None


def test_revoking_an_unknown_token_is_refused(app):
    with pytest.raises(Unauthorized):
        tokens.revoke_token("no-such-token")
