"""One Redis connection for the whole app, or an in-process stand-in when none answers."""

from __future__ import annotations

import logging
import threading

import fakeredis
import redis
from flask import Flask
from redis.sentinel import Sentinel

log = logging.getLogger(__name__)

# One in-process server per process, so every app made in it (and its cache, sessions and
# queue) sees the same data, as they would with a real Redis.
_embedded_server = fakeredis.FakeServer()
_embedded_lock = threading.Lock()


class RedisStore:
    """`client` answers str (the app's own keys); `raw` answers bytes (cache, sessions, RQ)."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.raw: redis.Redis | None = None
        self.embedded = False

    def init_app(self, app: Flask) -> None:
        url = app.config["REDIS_URL"]
        self.embedded = False  # this app's, not an earlier app's of the same process
        client, raw = connect(app.config)
        try:
            client.ping()
        except redis.RedisError as exc:
            if not app.config.get("REDIS_EMBEDDED_FALLBACK"):
                raise RuntimeError(f"Redis at {url} does not answer: {exc}") from exc
            log.warning(
                "\n%s\nNo Redis answers at %s (%s).\nUsing an IN-PROCESS Redis: carts, sessions "
                "and the cache live in this process only and jobs run inline.\nSet REDIS_URL to "
                "a real Redis for anything beyond a single-process demo.\n%s",
                "!" * 72,
                url,
                exc,
                "!" * 72,
            )
            with _embedded_lock:
                client = fakeredis.FakeRedis(server=_embedded_server, decode_responses=True)
                raw = fakeredis.FakeRedis(server=_embedded_server)
            self.embedded = True
            app.config["RQ_INLINE"] = True
        self.client, self.raw = client, raw
        app.config["REDIS_EMBEDDED"] = self.embedded
        app.extensions["redis_store"] = self


def sentinel_addresses(config) -> list[tuple[str, int]]:
    addresses = []
    for item in config.get("REDIS_SENTINELS") or []:
        host, _, port = item.rpartition(":")
        addresses.append((host or "127.0.0.1", int(port or 26379)))
    return addresses


def connect(config, *, timeout: float | None = None) -> tuple[redis.Redis, redis.Redis]:
    """(client, raw) for the app's Redis: REDIS_URL, or the master the Sentinels name.

    Every command gives up after REDIS_SOCKET_TIMEOUT seconds (`timeout` when given), so a
    frozen Redis is a 503, never a hang. Behind Sentinels each new connection asks them for
    the master, and a connection to a master that is gone fails and is dropped: the next one
    goes to whichever replica the Sentinels promoted."""
    url = config["REDIS_URL"]
    socket_timeout = timeout or float(config.get("REDIS_SOCKET_TIMEOUT") or 3)
    options = {
        "socket_connect_timeout": min(1.0, socket_timeout),
        "socket_timeout": socket_timeout,
        "health_check_interval": 30,
    }
    sentinels = sentinel_addresses(config)
    if not sentinels:
        client = redis.Redis.from_url(url, decode_responses=True, **options)
        raw = redis.Redis.from_url(url, **options)
        return client, raw
    place = redis.connection.parse_url(url)
    for key in ("db", "username", "password"):
        if place.get(key) is not None:
            options[key] = place[key]
    sentinel = Sentinel(
        sentinels,
        sentinel_kwargs={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    )
    name = config["REDIS_SENTINEL_MASTER"]
    client = sentinel.master_for(name, decode_responses=True, **options)
    raw = sentinel.master_for(name, **options)
    return client, raw


def embedded_server() -> fakeredis.FakeServer:
    return _embedded_server
