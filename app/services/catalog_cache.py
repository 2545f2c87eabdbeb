"""Catalog reads cached in Redis and in each process, under a version every catalog change renews.

Any commit that adds, changes or deletes a catalog row (from a page, the admin, a command or a
job) writes a new version after it commits, so every request that starts after the commit, in
any process, reads the new catalog; old entries simply age out.

The version is `<epoch>.<count>`: `catalog:version` counts the changes (INCR, as earlier
releases did, so old and new processes see each other's changes during a rolling deploy) and
`catalog:epoch` is a random token, renewed by every change and made afresh whenever Redis has
lost it (a flush, a restart without persistence). A version is therefore never seen twice: a
counter alone would start again from 1 after a flush and meet the entries a process still holds
for the old 1.

Each process also keeps the entries it has read, decoded (and their JSON once encoded), in a
bounded LRU keyed by version, along with rendered HTML fragments of the catalog pages. A read
therefore costs one Redis round trip, the version's MGET, and nothing more when the process has
the entry. A request reads the version once, at its first catalog read, and its later catalog
reads use the same one, so the pieces of one page always come from the same catalog; a commit
made by the request itself moves it on to the new version.

What the cache hands out is shared by every request of the process: read it, never change it.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from flask import Flask, current_app, g, has_app_context, has_request_context
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import cache
from app.replica import read_from_replica

log = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"  # the number of changes
EPOCH_KEY = "catalog:epoch"  # a random token, new with every change and after any loss
CHANGED = "catalog_changed"
EXTENSION = "catalog_local_cache"
VERSION_READER = "catalog_version_reader"
# The version this request reads the catalog at, in `g`; dropped when the request ends, since
# an app context may outlive one request (tests, a command serving several).
REQUEST_VERSION = "_catalog_version"
# Entries (data and HTML fragments together) a process keeps; the least recently used go first.
DEFAULT_LOCAL_ENTRIES = 512
H = TypeVar("H", Markup, tuple[Markup, ...], tuple[bytes, ...])

_catalog_classes: tuple[type, ...] = ()
_listeners: list[Callable[[], None]] = []


def init_app(app: Flask) -> None:
    global _catalog_classes
    from app.models import (
        FAQ,
        CourseCategory,
        CourseChapter,
        CourseDetail,
        CourseSection,
        PricePolicy,
        Product,
        Teacher,
    )

    _catalog_classes = (
        Product,
        CourseCategory,
        CourseDetail,
        CourseChapter,
        CourseSection,
        Teacher,
        FAQ,
        PricePolicy,
    )
    app.config.setdefault("CATALOG_LOCAL_ENTRIES", DEFAULT_LOCAL_ENTRIES)
    app.extensions[EXTENSION] = LocalEntries(
        app.config["CATALOG_LOCAL_ENTRIES"], max_age=app.config["CATALOG_CACHE_SECONDS"]
    )
    store = app.extensions["redis_store"]
    if not store.embedded:  # the in-process stand-in has no connection to send bytes on
        app.extensions[VERSION_READER] = VersionReader(store.client)
    app.teardown_request(_forget_request_version)
    if not event.contains(Session, "after_flush", _note_catalog_change):
        event.listen(Session, "after_flush", _note_catalog_change)
        event.listen(Session, "after_commit", _bump_if_changed)
        event.listen(Session, "after_soft_rollback", _forget_change)


def on_catalog_change(listener: Callable[[], None]) -> None:
    """Call `listener` after every commit that changed the catalog (the homepage rebuild)."""
    if listener not in _listeners:
        _listeners.append(listener)


# --- the version ------------------------------------------------------------------------------


def _client() -> redis.Redis:
    return current_app.extensions["redis_store"].client


def _new_epoch() -> str:
    return secrets.token_hex(16)


class VersionReader:
    """The version's MGET, the one Redis command of a warm catalog read, sent as it is (packed
    once) over a connection of the thread's own. Through the client it would also check a
    connection out of the pool and back, go through the retry wrapper and record metrics: more
    than the round trip itself. Connections are made with the client's own settings; one that
    fails is dropped and the read tried once more on a new one (the server may have closed an
    idle connection), then the error raised like the client's."""

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        self._new_connection = lambda: pool.connection_class(**pool.connection_kwargs)
        self._command = self._new_connection().pack_command("MGET", EPOCH_KEY, VERSION_KEY)
        self._local = threading.local()

    def read(self) -> list[Any]:
        try:
            return self._round_trip()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return self._round_trip()

    def _round_trip(self) -> list[Any]:
        connection = self._connection()
        try:
            connection.send_packed_command(self._command, check_health=False)
            return connection.read_response()
        except redis.ResponseError:  # an answer: the connection is fine
            raise
        except BaseException:  # half a command or half an answer may be left on it
            connection.disconnect()
            self._local.connection = None
            raise

    def _connection(self) -> Any:
        # Per thread, and made again in a forked child: a socket is never shared.
        pid = os.getpid()
        held = getattr(self._local, "connection", None)
        if held is None or held[0] != pid:
            held = self._local.connection = (pid, self._new_connection())
        return held[1]


def catalog_version() -> str:
    """The catalog's version as Redis has it now (one round trip)."""
    client = _client()
    reader: VersionReader | None = current_app.extensions.get(VERSION_READER)
    epoch, count = reader.read() if reader is not None else client.mget(EPOCH_KEY, VERSION_KEY)
    if epoch is None:  # never made yet, or lost
        with client.pipeline() as pipe:  # MULTI: several processes agree on the first token
            pipe.set(EPOCH_KEY, _new_epoch(), nx=True)
            pipe.mget(EPOCH_KEY, VERSION_KEY)
            _, (epoch, count) = pipe.execute()
    return f"{epoch}.{count or 0}"


def bump_catalog_version() -> str:
    """Give the catalog a new version: every entry cached so far is for an older one."""
    epoch = _new_epoch()
    with _client().pipeline() as pipe:
        pipe.incr(VERSION_KEY)
        pipe.set(EPOCH_KEY, epoch)
        count, _ = pipe.execute()
    version = f"{epoch}.{count}"
    if has_request_context():
        setattr(g, REQUEST_VERSION, version)
    return version


def _read_version() -> str:
    """The version a catalog read uses: read from Redis once per request."""
    if not has_request_context():
        return catalog_version()
    version = g.get(REQUEST_VERSION)
    if version is None:
        version = catalog_version()
        setattr(g, REQUEST_VERSION, version)
    return version


def _forget_request_version(_exc: BaseException | None = None) -> None:
    g.pop(REQUEST_VERSION, None)


# --- the process's entries --------------------------------------------------------------------


class Entry:
    """A cached value, and its JSON text once someone asked for it."""

    __slots__ = ("_json", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self._json: bytes | None = None

    def json(self) -> bytes:
        """The value as compact JSON, as Flask's `jsonify` writes it (encoded once)."""
        if self._json is None:
            text = current_app.json.dumps(self.value, separators=(",", ":"))
            self._json = text.encode()
        return self._json


class LocalEntries:
    """This process's entries for the current catalog version: at most `max_entries` of them
    (the least recently used go first), each kept `max_age` seconds at most, as long as in Redis
    (if a version bump ever fails, the entries still age out).

    Keys carry the version, so an entry is never found under another one; besides, the first
    lookup with a new version drops everything kept for the older one."""

    def __init__(self, max_entries: int, max_age: float) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self._version: str | None = None
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: str, key: str) -> Any:
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
                return None
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, version: str, key: str, item: Any) -> None:
        with self._lock:
            if version != self._version:
                return  # read under a version that is no longer the latest seen: not kept
            self._entries[key] = (time.monotonic() + self.max_age, item)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _local() -> LocalEntries:
    return current_app.extensions[EXTENSION]


def _key(version: str, name: str, parts: tuple[Any, ...]) -> str:
    return f"catalog:v{version}:{name}:" + ":".join(map(str, parts))


# --- reads ------------------------------------------------------------------------------------


def cached_entry(name: str, parts: tuple[Any, ...], build: Callable[[], Any]) -> Entry:
    """`build()`'s result in an `Entry`: from this process, else from Redis, else built (and
    kept in both) when this catalog version has not got it yet."""
    build = functools.partial(read_from_replica, build)  # a catalog read may be a little old
    try:
        version = _read_version()
    except redis.RedisError as exc:
        # One line, no traceback: while Redis is down every request would log one.
        log.warning("catalog cache unavailable (%s); reading the database", exc)
        return Entry(build())
    key = _key(version, name, parts)
    local = _local()
    entry = local.get(version, key)
    if entry is not None:
        return entry
    try:
        value = cache.get(key)
    except redis.RedisError as exc:
        log.warning("catalog cache unavailable (%s); reading the database", exc)
        return Entry(build())
    if value is None:
        value = build()
        try:
            cache.set(key, value)
        except redis.RedisError as exc:
            log.warning("could not store %s in the catalog cache (%s)", key, exc)
    entry = Entry(value)
    local.put(version, key, entry)
    return entry


def cached_fragment(name: str, parts: tuple[Any, ...], render: Callable[[], H]) -> H:
    """What `render()` makes (HTML, or a tuple of HTML pieces) of the catalog alone, kept in this
    process for this catalog version. `parts` must name everything else it depends on (the
    language, the address). The caller renders it where nothing personal or per-request can
    reach it (the catalog pages render in a request context of their own, which refuses a CSRF
    token or a CSP nonce). While templates reload on change (development), it is never kept."""
    if current_app.jinja_env.auto_reload:
        return render()
    try:
        version = _read_version()
    except redis.RedisError as exc:
        log.warning("catalog cache unavailable (%s); rendering afresh", exc)
        return render()
    key = _key(version, f"html:{name}", parts)
    local = _local()
    fragment = local.get(version, key)
    if fragment is None:
        fragment = render()
        local.put(version, key, fragment)
    return fragment


# --- noticing changes -------------------------------------------------------------------------


def _note_catalog_change(session: Session, flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _catalog_classes) and (
            obj in session.new or obj in session.deleted or session.is_modified(obj)
        ):
            session.info[CHANGED] = True
            return


def _bump_if_changed(session: Session) -> None:
    if not session.info.pop(CHANGED, False):
        return
    try:
        bump_catalog_version()
    except redis.RedisError:
        # Committed already: the cache ages out on its own (CATALOG_CACHE_SECONDS).
        log.exception("could not bump the catalog cache version")
        if has_app_context():
            g.pop(REQUEST_VERSION, None)  # this request (if any) reads it again
    for listener in _listeners:
        listener()


def _forget_change(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(CHANGED, None)
