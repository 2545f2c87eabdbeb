"""Fixtures every test builds on: the app on a clean database and a clean Redis of its own.

The suite runs on the real MariaDB and Redis when they answer (or TEST_DATABASE_URL /
TEST_REDIS_URL), in a database and a Redis db number of its own; otherwise on SQLite and an
in-process Redis, skipping (with the reason) the tests that need the real servers.
REQUIRE_SERVICES=1 turns such a skip into a failure.

Each test on MariaDB runs inside one transaction that is rolled back at its end: every app the
test makes talks through one connection, in that transaction, and each session's commit is a
SAVEPOINT (`join_transaction_mode="create_savepoint"`, STYLE.md). A test whose commits must be
seen by another connection (threads, a live server, a worker process, a second engine) says so
with `@pytest.mark.real_commits`: it gets real commits and the tables are emptied after it. On
SQLite every test is emptied after, as before.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pymysql
import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, RootTransaction, make_url
from sqlalchemy.pool import NullPool

from tests import DEMO_MEDIA_CACHE, FAST_PASSWORD_HASHER

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# One database per test process, so that two runs side by side never share one. No TLS on
# loopback: PyMySQL (1.2) otherwise prepares it for every connection ("preferred"), loading the
# system's CA certificates each time (~30 ms), and the tests make a connection or two per test.
MARIADB_DEFAULT = (
    "mysql+pymysql://root@127.0.0.1:3306/luffy_test_{worker}_{pid}"
    "?charset=utf8mb4&ssl_disabled=true"
)
REDIS_DEFAULT = "redis://127.0.0.1:6379/{db}"


@dataclass
class Services:
    database_url: str
    redis_url: str
    mariadb: bool
    redis: bool
    why_not: dict[str, str]


def _mariadb_url() -> tuple[str | None, str]:
    url = os.environ.get("TEST_DATABASE_URL") or MARIADB_DEFAULT.format(
        worker=WORKER, pid=os.getpid()
    )
    parsed = make_url(url)
    if not parsed.drivername.startswith("mysql"):
        return url, ""
    if os.environ.get("TEST_DATABASE_URL") and WORKER != "main":
        # Each xdist process empties its database between tests: a database of its own.
        parsed = parsed.set(database=f"{parsed.database}_{WORKER}")
        url = parsed.render_as_string(hide_password=False)
    try:
        conn = pymysql.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            connect_timeout=2,
        )
    except pymysql.MySQLError as exc:
        return None, f"MariaDB at {parsed.host}:{parsed.port} does not answer ({exc})"
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{parsed.database}`")
        cur.execute(
            f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    return url, ""


def _drop_mariadb(url: str) -> None:
    parsed = make_url(url)
    with contextlib.suppress(pymysql.MySQLError):
        conn = pymysql.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            connect_timeout=2,
        )
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{parsed.database}`")


BENCH_REDIS_DB = 14  # bench/'s default (bench/README.md)


def redis_db_number(worker: str, first: int = 15) -> int:
    """The Redis db of a test process: `first` (15), then one less for each of xdist's gw1,
    gw2, ...; never 0 (`make run`'s) nor 14 (bench/'s default)."""
    index = int(worker[2:]) if worker.startswith("gw") else 0
    numbers = [n for n in range(first, 0, -1) if n != BENCH_REDIS_DB] or [first]
    return numbers[min(index, len(numbers) - 1)]


def _redis_url() -> tuple[str, str]:
    given = os.environ.get("TEST_REDIS_URL")
    if given:  # its db for the first process, the next ones down for the others
        parts = urlsplit(given)
        first = int(parts.path.strip("/") or 0)
        url = urlunsplit(parts._replace(path=f"/{redis_db_number(WORKER, first)}"))
    else:
        url = REDIS_DEFAULT.format(db=redis_db_number(WORKER))
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return url, f"Redis at {url} does not answer ({exc})"
    return url, ""


@pytest.fixture(scope="session")
def services(tmp_path_factory) -> Iterator[Services]:
    why_not = {}
    database_url, reason = _mariadb_url()
    if database_url is None:
        why_not["mariadb"] = reason
        database_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    redis_url, reason = _redis_url()
    if reason:
        why_not["redis"] = reason
    if REQUIRE_SERVICES and why_not:
        pytest.exit(f"REQUIRE_SERVICES=1 but {'; '.join(why_not.values())}", returncode=3)
    found = Services(
        database_url=database_url,
        redis_url=redis_url,
        mariadb=database_url.startswith("mysql"),
        redis="redis" not in why_not,
        why_not=why_not,
    )
    yield found
    if found.mariadb:
        _drop_mariadb(database_url)


def test_config(services: Services, tmp_path: Path, **extra) -> dict:
    config = {
        "SQLALCHEMY_DATABASE_URI": services.database_url,
        "REDIS_URL": services.redis_url,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "STATIC_INDEX_DIR": str(tmp_path / "generated"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "MEDIA_FOLDER": str(tmp_path / "media"),
        "DEMO_MEDIA_CACHE": str(DEMO_MEDIA_CACHE),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }
    config.update(extra)
    return config


# Sandbox key pairs made by the app come from a few RSA keys made once per run: a 2048-bit key
# is ~60 ms of CPU, and the suite's apps would make some 400 of them. Consecutive keys differ
# (an app's and the gateway's pair, a test's second key); tests/functional/test_payment_keys.py
# makes its own where it needs one.
RSA_KEYS_PER_RUN = 4


@pytest.fixture(scope="session", autouse=True)
def _few_rsa_keys() -> Iterator[None]:
    from app.services.payments import keys

    made: list = []
    turn = itertools.count()
    lock = threading.Lock()
    original = keys.new_private_key

    def new_private_key():
        with lock:
            index = next(turn) % RSA_KEYS_PER_RUN
            if index == len(made):
                made.append(original())
            return made[index]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keys, "new_private_key", new_private_key)
        yield


REAL_HASHER = "real_hasher"


@pytest.fixture(autouse=True)
def _fast_password_hasher(request) -> Iterator[None]:
    """The app hashes and checks passwords with the tests' cheap argon2id (tests/__init__.py),
    unless the test is marked `real_hasher`."""
    if request.node.get_closest_marker(REAL_HASHER):
        yield
        return
    from app.services import accounts

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "hasher", FAST_PASSWORD_HASHER)
        yield


@pytest.fixture(scope="session")
def _schema(services: Services, tmp_path_factory) -> None:
    """The schema made once per run, by the migrations themselves."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(test_config(services, tmp_path_factory.mktemp("schema")), env="testing")
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()


REAL_COMMITS = "real_commits"
# Statements of the test's own transaction, not of the code under test (left out of counts).
SAVEPOINT_SQL = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        f"{REAL_COMMITS}: the test's commits must be seen by another connection (threads, a live "
        "server, a worker, a second engine): real commits, tables emptied after it",
    )
    config.addinivalue_line(
        "markers", f"{FRESH_APP}: the test gets an app made for it alone, not the lent one"
    )
    config.addinivalue_line(
        "markers", f"{REAL_HASHER}: passwords hashed at the app's cost, not the tests' cheap one"
    )


# Whole folders whose tests always serve or read from another thread or process (a live server
# for the browser, threads racing, a worker, a cluster): real commits, whatever each file says.
REAL_COMMIT_FOLDERS = ("e2e", "integration", "cluster")
TESTS = Path(__file__).parent


# The folders whose tests take longest, run first (the rest in their own order): `make test`
# hands whole files to two processes (pytest-xdist) in this order, so that the cluster test's
# waits overlap the other tests and short files even out the end.
SLOW_FIRST = ("cluster", "e2e", "integration", "fuzz")


def _folder(item) -> str:
    return Path(str(item.path)).relative_to(TESTS).parts[0]


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if _folder(item) in REAL_COMMIT_FOLDERS:
            item.add_marker(REAL_COMMITS)
    rank = {folder: place for place, folder in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(_folder(item), len(SLOW_FIRST)))


@dataclass
class RolledBackTransaction:
    """One connection in one transaction, shared by every app a test makes; rolled back after."""

    connection: Connection
    transaction: RootTransaction

    def attach(self, app) -> Engine:
        """Point `app`'s default bind at the test's connection; the engine it had, to dispose."""
        from app.extensions import db

        with app.app_context():
            engine = db.engines[None]
            db.engines[None] = self.connection  # type: ignore[index]  # Flask-SQLAlchemy 3 reads it
        return engine

    def end(self) -> None:
        self.transaction.rollback()
        self.connection.close()


@pytest.fixture(scope="session")
def shared_engine(services: Services) -> Iterator[Engine | None]:
    """The engine the rolled-back tests' connections come from (MariaDB only)."""
    if not services.mariadb:
        yield None
        return
    from app.extensions import db

    # A session on a connection already in a transaction works in a SAVEPOINT of its own, so
    # its commit and rollback stay inside the test's transaction.
    db.session.session_factory.kw["join_transaction_mode"] = "create_savepoint"
    engine = create_engine(
        services.database_url, poolclass=NullPool, isolation_level="READ COMMITTED"
    )
    yield engine
    engine.dispose()


@pytest.fixture
def test_transaction(request, shared_engine) -> Iterator[RolledBackTransaction | None]:
    """The test's rolled-back transaction, or None for a `real_commits` test or on SQLite (and
    for every test with TEST_ISOLATION=truncate, the old way, kept to compare the two)."""
    if (
        shared_engine is None
        or request.node.get_closest_marker(REAL_COMMITS) is not None
        or os.environ.get("TEST_ISOLATION") == "truncate"
    ):
        yield None
        return
    connection = shared_engine.connect()
    shared = RolledBackTransaction(connection, connection.begin())
    try:
        yield shared
    finally:
        shared.end()


def clean_database(app) -> None:
    from app.extensions import db

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("PRAGMA foreign_keys=OFF"))
        else:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if conn.dialect.name == "sqlite":
            conn.execute(text("PRAGMA foreign_keys=ON"))
        else:
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))


def flush_redis(app) -> None:
    app.extensions["redis_store"].raw.flushdb()


class IsolatedClient(FlaskClient):
    """Each request runs in an app context of its own, so it gets a fresh `g` and database
    session as in production, not the test's (which stays pushed for factories)."""

    def open(self, *args, **kwargs):
        _end_test_session_transaction()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _end_test_session_transaction() -> None:
    """In a rolled-back test, the test's own session ends its transaction before a request.

    On a real database the request's commit stands whatever the test's session does next; on
    the shared connection the test's open SAVEPOINT would hold the request's writes, and the
    test's `db.session.rollback()` (to read afresh) would undo them. Ending it first (a commit:
    the factories have committed what they made) keeps the two apart, as on a real database."""
    from flask import has_app_context

    from app.extensions import db

    if has_app_context() and isinstance(db.engines.get(None), Connection):
        session = db.session()
        if session.in_transaction():
            session.commit()


FRESH_APP = "fresh_app"
PATHS = ("INSTANCE_DIR", "STATIC_INDEX_DIR", "UPLOAD_FOLDER", "MEDIA_FOLDER")


# Settings that name a server of the test's own (at a port the next test may be given again)
# or start what the test stops (the catalog version watch's thread): an app made with them is
# the test's alone, never lent.
NEVER_LENT = frozenset(
    {
        "SQLALCHEMY_DATABASE_URI",
        "REDIS_URL",
        "DATABASE_REPLICA_URL",
        "REDIS_SENTINELS",
        "CATALOG_VERSION_WATCH",
    }
)


@dataclass
class Lent:
    """An app `make_app` lends to one test after another, with the settings it was made with:
    building one (its hundreds of URL rules, Flask-Admin's views) costs more than most tests,
    and nothing of a test stays in it: its settings are put back, its folders are the test's
    own, its payment state is dropped, and its database and Redis are cleaned like any app's."""

    app: Any
    settings: dict[str, Any]
    shape: tuple = field(init=False)  # as made: see app_shape

    def __post_init__(self) -> None:
        self.shape = app_shape(self.app)


def app_shape(app) -> tuple:
    """What a test could add to an app that lending would carry into the next test: its pages,
    their security policies and the hooks around its requests."""
    from app.security import EXTENSION

    hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    return (
        frozenset(app.view_functions),
        repr(sorted(app.extensions[EXTENSION].csp_overrides.items())),
        [{scope: tuple(funcs) for scope, funcs in hook.items() if funcs} for hook in hooks],
    )


@pytest.fixture(scope="session")
def _lent_apps() -> dict[tuple, Lent]:
    """The apps lent this run, one per set of extra settings (`_lending_key`)."""
    return {}


def _lending_key(extra: dict[str, Any]) -> tuple | None:
    """What an app made with `extra` is filed under, or None when it is never lent."""
    if NEVER_LENT & extra.keys():
        return None
    key = tuple(sorted(extra.items()))
    try:
        hash(key)
    except TypeError:  # a dict or list setting: made afresh each time
        return None
    return key


def _lend(lent: Lent, services: Services, tmp_path: Path):
    app = lent.app
    app.config.clear()
    app.config.update(lent.settings)
    config = test_config(services, tmp_path)
    folders = {name: config[name] for name in PATHS}
    for name, folder in folders.items():
        Path(folder).mkdir(parents=True, exist_ok=True)
        app.config[name] = folder
    app.instance_path = str(Path(folders["INSTANCE_DIR"]).resolve())
    app.extensions.pop("payments", None)  # loaded keys and the sandbox transport
    from app.extensions import queue, redis_store

    # Process-wide objects that follow the app made last: point them back at this one.
    redis_store.init_app(app)
    queue.init_app(app)
    return app


@pytest.fixture
def make_app(services: Services, _schema, tmp_path: Path, test_transaction, _lent_apps, request):
    """An app on the test servers with extra settings: `make_app(CAPTCHA_ENABLED=True)`.

    An app made with the same settings for an earlier test is lent instead of building one,
    unless the test is marked `fresh_app` (or TEST_APP_REUSE=0), a setting is one of
    NEVER_LENT, or this test has that app already: a second app of the same settings stands
    for another process, and is made for the test alone."""
    from app import create_app

    made = []
    fresh = (
        request.node.get_closest_marker(FRESH_APP) is not None
        or os.environ.get("TEST_APP_REUSE") == "0"
    )

    def factory(**extra):
        key = None if fresh else _lending_key(extra)
        lent = _lent_apps.get(key) if key is not None else None
        if lent is not None and all(app is not lent.app for app, _ in made):
            app = _lend(lent, services, tmp_path)
        else:
            app = create_app(test_config(services, tmp_path, **extra), env="testing")
            app.test_client_class = IsolatedClient
            if key is not None and key not in _lent_apps:
                _lent_apps[key] = Lent(app, dict(app.config))
        engine = test_transaction.attach(app) if test_transaction is not None else None
        made.append((app, engine))
        return app

    yield factory
    from app.extensions import db

    spoiled = [
        key
        for key, lent in _lent_apps.items()
        if any(app is lent.app for app, _ in made) and app_shape(lent.app) != lent.shape
    ]
    for key in spoiled:  # lent no more: the next test gets one made afresh
        del _lent_apps[key]
    for app, engine in made:
        watch = app.extensions.get("catalog_version_watch")
        if watch is not None:
            watch.stop()
        with app.app_context():
            db.session.remove()
            if engine is not None:
                db.engines[None] = engine  # the test's connection is closed with it
            db.engine.dispose()
    if spoiled:
        pytest.fail(
            "the test added a page, a policy or a request hook to a lent app, which the next "
            f"test would get: mark it @pytest.mark.{FRESH_APP}, or put back what it changed"
        )


@pytest.fixture
def app_with(make_app):
    """`with app_with(CAPTCHA_ENABLED=True) as app:` an app with extra settings, its context
    pushed, on a clean database and Redis, cleaned again afterwards."""

    @contextlib.contextmanager
    def made(**settings):
        from app.extensions import db

        app = make_app(**settings)
        flush_redis(app)
        with app.app_context():
            rolled_back = isinstance(db.engines[None], Connection)
            try:
                yield app
            finally:
                db.session.remove()
                if not rolled_back:  # the test's transaction is rolled back instead
                    clean_database(app)
        flush_redis(app)

    return made


@pytest.fixture
def app(app_with):
    """The app, its context pushed for the test, on a clean database and Redis (the suite's one
    plain app, lent; mark a test `fresh_app` to have one made for it alone)."""
    with app_with() as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db_session(app):
    from app.extensions import db

    return db.session


@pytest.fixture
def mariadb(services: Services) -> None:
    """Use in a test that needs the real MariaDB (locks, races): skipped on SQLite."""
    if not services.mariadb:
        pytest.skip(services.why_not.get("mariadb", "not running on MariaDB"))


@pytest.fixture
def redis_commands(monkeypatch) -> list[bytes]:
    """Every command any Redis connection sends from now on in this thread, where the test
    client runs its requests (the pool's, pipelines), as the bytes that go to Redis; clear it to
    start again. Other threads' (the catalog version watch's) are left out."""
    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command
    test_thread = threading.get_ident()

    def counting(self, command, *args, **kwargs):
        if threading.get_ident() == test_thread:
            parts = [command] if isinstance(command, bytes | str) else command
            sent.append(b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in parts))
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


@pytest.fixture
def real_redis(services: Services) -> None:
    if not services.redis:
        pytest.skip(services.why_not.get("redis", "no real Redis"))


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.startswith(SAVEPOINT_SQL):
            self.statements.append(statement)


@pytest.fixture
def count_queries(app):
    """`with count_queries() as counter: ...; counter.count` counts SQL sent in the block."""
    from app.extensions import db

    @contextlib.contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return counting


@pytest.fixture(scope="session")
def _sqlite_schema(services: Services, tmp_path_factory) -> Path:
    """A SQLite file upgraded by the migrations, made once per run; `sqlite_app` copies it."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    folder = tmp_path_factory.mktemp("sqlite-schema")
    path = folder / "schema.sqlite3"
    app = create_app(
        test_config(services, folder, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"), env="testing"
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def sqlite_app(services: Services, tmp_path: Path, _sqlite_schema: Path):
    """An app on a fresh SQLite file upgraded by the migrations (a copy of the one file they
    built for the run), whatever the suite runs on."""
    from app import create_app

    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "sqlite.db"
    shutil.copyfile(_sqlite_schema, path)
    app = create_app(
        test_config(services, tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}"),
        env="testing",
    )
    with app.app_context():
        yield app
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def token_for(app):
    """`token_for(user)` -> headers that authenticate API requests as `user`."""
    from app.extensions import db
    from app.services.tokens import issue_token

    def make(user) -> dict[str, str]:
        key, _ = issue_token(user)
        db.session.commit()
        return {"Authorization": f"Token {key}"}

    return make


@pytest.fixture
def student(app):
    """A signed-up student (see `headers` for their API token)."""
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def headers(student, token_for):
    """Headers that authenticate API requests as `student`."""
    return token_for(student)
