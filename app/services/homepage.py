"""The pre-rendered homepage: one file per language in `STATIC_INDEX_DIR`, the same for everyone.

`write_pages()` renders `main/index.html` for every supported language (`index.zh.html`,
`index.en.html`) outside any visitor's request, and puts each file in place with a rename, so
that a reader (`/`, or a web server serving the directory) sees the old page or the new one,
never half of one. The `rebuild_homepage` job (app/jobs.py) calls it; `request_rebuild()` asks
for that job, coalesced, after every commit that changed the catalog (`init_app` subscribes it
to `catalog_cache.on_catalog_change`), and the worker asks for one when it starts.

It renders the catalog as the pages show it, so it reads it shaped and cached through
app/schemas/catalog_reads.py (a service that writes a page, it is the one that uses app/schemas).

Nothing personal or per-request may reach a file: it is rendered in a request context of its
own for "/" (no cookie, no user, no session), and `render_page` refuses to hand out a page
whose rendering asked for a CSRF token, a CSP nonce, the signed-in user or a session write.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app, g, render_template, session
from flask_babel import force_locale
from redis.exceptions import LockError

from app.i18n import supported
from app.schemas import catalog_reads
from app.security import nonce_was_used
from app.services import catalog_cache

log = logging.getLogger(__name__)

TEMPLATE = "main/index.html"
FILE_NAME = "index.{language}.html"
# Set (SET NX) by whoever enqueues a rebuild, deleted by the job when it starts: while it is
# set, a rebuild is waiting that has not read the catalog yet, so a further change needs no
# job of its own. It expires in case its job is ever lost (a flushed queue, say).
PENDING_KEY = "homepage:rebuild_pending"
PENDING_SECONDS = 600
# One rebuild at a time (see `rebuild`): held for a render and a write, well under a second; it
# expires on its own if its holder dies.
LOCK_KEY = "homepage:rebuild_lock"
LOCK_SECONDS = 120
LOCK_WAIT_SECONDS = 60


class PersonalContentError(RuntimeError):
    """The homepage's rendering used something that belongs to one visitor or one request."""


class RebuildBusyError(RuntimeError):
    """Another rebuild held the lock for too long; the job fails and RQ retries it."""


@dataclass(frozen=True)
class Page:
    """A pre-rendered page as read from its file: the bytes, their hash and the file's time."""

    body: bytes
    etag: str
    last_modified: datetime | None


def init_app(app: Flask) -> None:
    """Rebuild the homepage after every commit that changes the catalog."""
    catalog_cache.on_catalog_change(_catalog_changed)


def directory(app: Flask | None = None) -> Path:
    return Path((app or current_app).config["STATIC_INDEX_DIR"])


def page_path(language: str, app: Flask | None = None) -> Path:
    if language not in supported():
        raise ValueError(f"not a supported language: {language!r}")
    return directory(app) / FILE_NAME.format(language=language)


# --- rendering --------------------------------------------------------------------------------


def render_page(language: str) -> str:
    """The homepage in `language`, as every visitor of that language gets it.

    Rendered in an app context and a request context of their own (a fresh `g` and database
    session; the path "/", no cookie), so nothing of a request being served, if any, can leak
    into it."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    # Leaving the app context removes its database session (Flask-SQLAlchemy's teardown).
    with app.app_context(), app.test_request_context("/"), force_locale(language):
        html = render_template(TEMPLATE, **catalog_reads.homepage())
        _refuse_anything_per_request()
    return html


def _refuse_anything_per_request() -> None:
    used = []
    if nonce_was_used():
        used.append("a CSP nonce")
    if g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")) is not None:
        used.append("a CSRF token")
    user = g.get("_login_user")  # Flask-Login's context processor always loads one
    if user is not None and user.is_authenticated:
        used.append("a signed-in user")
    if session.modified:
        used.append("a session write")
    if used:
        raise PersonalContentError(f"{TEMPLATE} used {', '.join(used)}: it is one page for all")


# --- the files --------------------------------------------------------------------------------


def write_pages() -> dict[str, Path]:
    """Render every language, then put each file in place atomically. Nothing is written when
    any language fails to render."""
    pages = {language: render_page(language).encode() for language in supported()}
    written = {}
    for language, body in pages.items():
        path = page_path(language)
        write_atomically(path, body)
        written[language] = path
    log.info("homepage rebuilt: %s", ", ".join(str(p) for p in written.values()))
    remove_stale_temporaries(directory())
    return written


STALE_AFTER = 600  # seconds: far longer than any write takes


def remove_stale_temporaries(directory: Path, now: float | None = None) -> list[Path]:
    """Delete the temporary files a writer that died left behind (`.index.*.tmp` older than
    STALE_AFTER); a younger one may be a live write, and stays."""
    now = time.time() if now is None else now
    removed = []
    for leftover in directory.glob(".index.*.tmp"):
        with suppress(FileNotFoundError):  # another rebuild removed it first
            if now - leftover.stat().st_mtime > STALE_AFTER:
                leftover.unlink()
                removed.append(leftover)
    if removed:
        log.warning("removed temporary files a rebuild left: %s", ", ".join(map(str, removed)))
    return removed


def write_atomically(path: Path, body: bytes) -> None:
    """Write `body` to a temporary file beside `path`, then rename it over `path`: a reader
    opens either the old file or the new one, each complete (rename is atomic on one file
    system, which is why the temporary file is in the same directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600: a web server must read it too
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_page(language: str) -> Page | None:
    """The pre-rendered page of `language`, or None when there is none yet. The body, its
    ETag and its time all come from the one file opened, even if a rebuild replaces it."""
    try:
        with page_path(language).open("rb") as fh:
            stat = os.fstat(fh.fileno())
            body = fh.read()
    except FileNotFoundError:
        return None
    return Page(
        body=body,
        etag=etag_of(body),
        last_modified=datetime.fromtimestamp(int(stat.st_mtime), UTC),
    )


def etag_of(body: bytes) -> str:
    """The page's own hash: the same content has the same tag in every process."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


# --- rebuilding, one at a time ---------------------------------------------------------------


def rebuild() -> dict[str, Path]:
    """What the `rebuild_homepage` job does: under the rebuild lock, drop the pending flag,
    then read the catalog and write the files.

    The lock keeps rebuilds in order: without it, a slow rebuild that read the catalog before
    a change could finish after the quicker one that the change asked for (two workers), and
    put the old page back. Dropping the flag only once the lock is held lets changes committed
    while this job waited for it ride along."""
    with rebuild_lock():
        current_app.extensions["redis_store"].client.delete(PENDING_KEY)
        return write_pages()


_process_lock = threading.Lock()


@contextmanager
def rebuild_lock() -> Iterator[None]:
    """One rebuild at a time: a Redis lock shared by every worker (and web process), or, on an
    in-process Redis (one process, jobs inline), this process's own lock."""
    store = current_app.extensions["redis_store"]
    if store.embedded:
        with _process_lock:
            yield
        return
    lock = store.client.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS)
    if not lock.acquire():
        raise RebuildBusyError("another homepage rebuild holds the lock")  # RQ retries later
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("the homepage rebuild outlived its lock (%s s)", LOCK_SECONDS)


# --- asking for a rebuild ---------------------------------------------------------------------


def request_rebuild(*, force: bool = False) -> bool:
    """Enqueue `rebuild_homepage` unless one is already waiting; True when one was enqueued.
    With jobs inline (tests, the embedded `make run`) the rebuild has run when this returns.

    Coalescing uses a Redis flag rather than RQ's job ids: the flag is taken with SET NX and
    dropped by the job once it starts (holding the rebuild lock), before it reads the catalog.
    A change committed while the flag is set is therefore seen by the waiting job, and a change
    committed once the job has dropped it enqueues the next one: a burst of edits gives one
    rebuild (or two, when the burst straddles a rebuild), and no edit is ever missed. A fixed
    RQ job id would not do: enqueueing an id again replaces the job's hash, even while that
    job runs, and pushes the id on the queue a second time. `force` enqueues whatever the flag
    says (the worker's start, where a flag may be left over from a worker that stopped)."""
    from app.extensions import queue
    from app.jobs import rebuild_homepage

    if queue.inline:  # runs now: there is nothing to coalesce with
        queue.enqueue(rebuild_homepage)
        return True
    client = current_app.extensions["redis_store"].client
    if force:
        client.set(PENDING_KEY, "1", ex=PENDING_SECONDS)
    elif not client.set(PENDING_KEY, "1", nx=True, ex=PENDING_SECONDS):
        return False
    try:
        queue.enqueue(rebuild_homepage, description="rebuild the homepage")
    except Exception:
        client.delete(PENDING_KEY)  # let the next change try again
        raise
    return True


def _catalog_changed() -> None:
    """After a commit that changed the catalog (it has succeeded already: never fail it).

    With a worker, a rebuild is enqueued. With jobs inline it runs here and now, but only
    when there are files to keep fresh: with none, the next visit to "/" makes them (the
    test suite commits thousands of catalog rows that no homepage will ever show). The look
    at the files is made under the rebuild lock, so a rebuild running meanwhile, which may
    have read the catalog before this commit, has finished and left its files to be seen."""
    from app.extensions import queue

    try:
        if queue.inline:
            with rebuild_lock():
                stale = any(page_path(language).exists() for language in supported())
            if not stale:
                return
        request_rebuild()
    except Exception:
        log.exception("could not rebuild the homepage after a catalog change")
