"""Catalog reads cached in Redis and in each process, under a version every catalog change renews.

Any commit that adds, changes or deletes a catalog row (from a page, the admin, a command or a
job) writes a new version after it commits, so the requests that start after the commit read the
new catalog (see below for how soon in other processes); old entries simply age out.

The version is `<epoch>.<count>`: `catalog:version` counts the changes (INCR, as earlier
releases did, so old and new processes see each other's changes during a rolling deploy) and
`catalog:epoch` is a random token, renewed by every change and made afresh whenever Redis has
lost it (a flush, a restart without persistence). A version is therefore never seen twice: a
counter alone would start again from 1 after a flush and meet the entries a process still holds
for the old 1.

Each process also keeps the entries it has read, decoded (and their JSON once encoded), in a
bounded LRU keyed by version, along with rendered HTML fragments of the catalog pages, and the
version itself, which Redis tells it of whenever it changes (`VersionWatch`). A warm read
therefore costs no round trip at all; while the watch cannot vouch for its copy (starting,
reconnecting), one: the version's MGET. A request reads the version once, at its first catalog
read, and its later catalog reads use the same one, so the pieces of one page always come from
the same catalog; a commit made by the request itself moves it on to the new version, and every
later request of the same process sees it at once. Another process sees it as soon as Redis's
message reaches it: within a millisecond or so (`CATALOG_VERSION_WATCH=0` reads the version on
every request instead, for a change seen strictly on the next request anywhere).

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
VERSION_WATCH = "catalog_version_watch"
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
    # The in-process stand-in tells nobody of changes: every request reads the version there.
    if app.config["CATALOG_VERSION_WATCH"] and not app.config["REDIS_EMBEDDED"]:
        app.extensions[VERSION_WATCH] = VersionWatch(store.client)
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


class VersionWatch:
    """This process's copy of the catalog's version, kept by Redis's own invalidation messages.

    A thread of the process holds one connection to Redis that asks for `CLIENT TRACKING` in
    broadcast mode on the version's two keys, redirected to itself and subscribed to
    `__redis__:invalidate`: any write of either key, by any process (a bump, an earlier
    release's `INCR`, a flush, the epoch made afresh), sends it a message, upon which the copy
    is read again at once. The copy is also read again every `revalidate` seconds
    (a failover that kept the connection open would otherwise go unseen), and is None (every
    request reads the version from Redis, as without the watch) until the connection is made
    and whenever it fails; it is made again after a pause. A version this process bumps itself
    is taken at once (`note`), so a request of this process never reads the catalog older than
    its own commit; another process's change reaches it within the time Redis and this thread
    take to pass the message on and read the version (well under a millisecond on a quiet
    machine, a few under load), rather than on the next request strictly.

    The thread is started by the first read in each process (a forked gunicorn worker starts
    its own) and is a daemon: it never holds a process up at exit."""

    def __init__(self, client: redis.Redis, *, revalidate: float = 1.0, retry: float = 1.0):
        pool = client.connection_pool
        # RESP2: the messages come on the subscribed connection, as `message` replies (the
        # client's maintenance notifications need RESP3, and this connection runs no command).
        kwargs = {
            key: value
            for key, value in pool.connection_kwargs.items()
            if not key.startswith("maint_notifications")
        }
        kwargs.update(protocol=2, socket_timeout=revalidate + 5)
        self._new_connection = lambda: pool.connection_class(**kwargs)
        self._client = client
        self._revalidate = revalidate
        self._retry = retry
        self._version: str | None = None
        self._changes = 0  # how many times the copy was dropped or noted: a read older is void
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = threading.Event()
        self._connection: Any = None
        self.connection_id: int | None = None  # the watching connection's, in CLIENT LIST

    def current(self) -> str | None:
        """The version as last told, or None when the watch cannot vouch for one."""
        if self._pid != os.getpid():
            self._start()
        return self._version

    def note(self, version: str) -> None:
        """This process has just written `version`: take it without waiting for the message."""
        with self._lock:
            self._changes += 1
            watching = self._connection is not None and not self._stopped.is_set()
            self._version = version if watching else None

    def stop(self) -> None:
        """No copy from now on; the thread leaves (and closes its connection) within
        `revalidate` seconds."""
        self._stopped.set()
        self._drop()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._version = None
            self._connection = None  # a parent's connection is not this process's to read
        threading.Thread(target=self._run, name="catalog-version-watch", daemon=True).start()

    def _drop(self) -> None:
        with self._lock:
            self._changes += 1
            self._version = None

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._watch()
            except (redis.RedisError, OSError) as exc:
                if not self._stopped.is_set():
                    log.warning("catalog version watch lost (%s); reading it per request", exc)
            except Exception:  # never a thread gone for good: read per request, then again
                log.exception("catalog version watch failed; reading it per request")
            finally:
                self._drop()
                connection, self._connection = self._connection, None
                if connection is not None:
                    connection.disconnect()
            self._stopped.wait(self._retry)

    def _watch(self) -> None:
        connection = self._new_connection()
        connection.connect()
        self._connection = connection
        connection.send_command("CLIENT", "ID")
        self.connection_id = connection.read_response()
        connection.send_command(
            "CLIENT", "TRACKING", "ON", "REDIRECT", self.connection_id, "BCAST",
            "PREFIX", VERSION_KEY, "PREFIX", EPOCH_KEY,
        )  # fmt: skip
        connection.read_response()
        connection.send_command("SUBSCRIBE", "__redis__:invalidate")
        connection.read_response()
        while not self._stopped.is_set():
            with self._lock:
                changes = self._changes
            version = _version_from(self._client)
            with self._lock:
                if changes == self._changes:  # nothing was dropped or noted meanwhile
                    self._version = version
            if connection.can_read(timeout=self._revalidate):
                # An invalidation (or a flush's, with no keys): read again at once. The copy
                # stays meanwhile, one round trip: tracking knows key names, not databases, so
                # another database's catalog on the same server sends messages too, and those
                # must not send this process's requests to Redis.
                connection.read_response()
                while connection.can_read(timeout=0):  # several at once: one read covers all
                    connection.read_response()


def catalog_version() -> str:
    """The catalog's version as Redis has it now (one round trip)."""
    return _version_from(_client())


def _version_from(client: redis.Redis) -> str:
    epoch, count = client.mget(EPOCH_KEY, VERSION_KEY)
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
    if has_app_context():
        watch: VersionWatch | None = current_app.extensions.get(VERSION_WATCH)
        if watch is not None:
            watch.note(version)
    if has_request_context():
        setattr(g, REQUEST_VERSION, version)
    return version


def _read_version() -> str:
    """The version a catalog read uses: the process's watched copy, else read from Redis; once
    per request."""
    if not has_request_context():
        return catalog_version()
    version = g.get(REQUEST_VERSION)
    if version is None:
        version = watched_version(current_app) or catalog_version()
        setattr(g, REQUEST_VERSION, version)
    return version


def watched_version(app: Flask) -> str | None:
    """`app`'s process's watched copy of the version; None without a watch, or while it cannot
    vouch for one."""
    watch: VersionWatch | None = app.extensions.get(VERSION_WATCH)
    return watch.current() if watch is not None else None


def request_version() -> str | None:
    """The catalog version this request has read the catalog at, if it has."""
    return g.get(REQUEST_VERSION) if has_request_context() else None


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
