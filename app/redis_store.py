"""One Redis connection for the whole app, or an in-process stand-in when none answers."""

from __future__ import annotations

import logging
import threading

import fakeredis
import redis
from flask import Flask

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
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=1, health_check_interval=30
        )
        raw = redis.Redis.from_url(url, socket_connect_timeout=1, health_check_interval=30)
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


def embedded_server() -> fakeredis.FakeServer:
    return _embedded_server
