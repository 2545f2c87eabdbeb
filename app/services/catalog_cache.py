"""Catalog reads cached in Redis, under a version number that every catalog change bumps.

Any commit that adds, changes or deletes a catalog row (from a page, the admin, a command or a
job) bumps the version after it commits, so no reader sees a stale catalog for longer than it
takes to commit; old entries simply age out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import cache

log = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"
CHANGED = "catalog_changed"
T = TypeVar("T")

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
    if not event.contains(Session, "after_flush", _note_catalog_change):
        event.listen(Session, "after_flush", _note_catalog_change)
        event.listen(Session, "after_commit", _bump_if_changed)
        event.listen(Session, "after_soft_rollback", _forget_change)


def on_catalog_change(listener: Callable[[], None]) -> None:
    """Call `listener` after every commit that changed the catalog (the homepage rebuild)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _client() -> redis.Redis:
    return current_app.extensions["redis_store"].client


def catalog_version() -> int:
    return int(_client().get(VERSION_KEY) or 0)


def bump_catalog_version() -> int:
    return int(_client().incr(VERSION_KEY))


def cached(name: str, parts: tuple[Any, ...], build: Callable[[], T]) -> T:
    """`build()`'s result, from the cache when this catalog version already has it."""
    try:
        key = f"catalog:v{catalog_version()}:{name}:" + ":".join(map(str, parts))
        value = cache.get(key)
    except redis.RedisError:
        log.warning("catalog cache unavailable; reading the database", exc_info=True)
        return build()
    if value is None:
        value = build()
        try:
            cache.set(key, value)
        except redis.RedisError:
            log.warning("could not store %s in the catalog cache", key, exc_info=True)
    return value


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
    for listener in _listeners:
        listener()


def _forget_change(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(CHANGED, None)
