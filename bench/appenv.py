"""The store's production environment for a benchmark: its own database, Redis db and folders."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis
from harness import ROOT, VENV_BIN

# Where the benchmark's state goes; several people benchmarking on one machine give each run
# its own (e.g. BENCH_DATABASE=speed_bench BENCH_REDIS_DB=7).
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "luffy_bench")
# Redis database of the benchmark: never 0 (make run) nor 15 (the tests).
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "14"))
BENCH_REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))


@dataclass
class MariaDB:
    """Where a MariaDB server may answer; the benchmark makes and drops its own database."""

    host: str = "127.0.0.1"
    port: int = int(os.environ.get("BENCH_MYSQL_PORT", "3306"))  # a server of your own
    user: str = "root"
    password: str = ""

    def connect(self, database: str | None = None):
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            connect_timeout=2,
            autocommit=True,
        )

    def answers(self) -> bool:
        try:
            self.connect().close()
        except Exception:
            return False
        return True

    def recreate(self, name: str) -> None:
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )

    def drop(self, name: str) -> None:
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def url(self, name: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"mysql+pymysql://{auth}@{self.host}:{self.port}/{name}?charset=utf8mb4"


@dataclass
class AppEnvironment:
    """Environment variables that make `wsgi:app` run in production on throwaway state."""

    workdir: Path
    database_kind: str  # "mariadb" or "sqlite"
    database_url: str
    redis_url: str
    env: dict[str, str] = field(default_factory=dict)
    mariadb: MariaDB | None = None
    database_name: str | None = None

    def flask(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`flask --app wsgi ARGS` in this environment, its output captured."""
        return self.python("-m", "flask", "--app", "wsgi", *args, timeout=timeout)

    def python(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.process_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def process_env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "TEST_"))}
        pythonpath = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
        return {**base, **self.env, "PYTHONPATH": pythonpath, "PATH": _path_with_venv()}

    def describe(self) -> dict[str, object]:
        shown = self.database_url.split("@")[-1] if "@" in self.database_url else "sqlite (temp)"
        return {
            "database": self.database_kind,
            "database_url": shown,
            "redis_url": self.redis_url,
            "app_env": self.env["APP_ENV"],
            "payment_sandbox": self.env["PAYMENT_SANDBOX"],
        }

    def cleanup(self) -> None:
        """Drop the benchmark database, flush its Redis db and remove the temp folder."""
        if self.mariadb is not None and self.database_name:
            try:
                self.mariadb.drop(self.database_name)
            except Exception as exc:
                print(f"could not drop database {self.database_name}: {exc}", file=sys.stderr)
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.redis_url, socket_connect_timeout=2).flushdb()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _path_with_venv() -> str:
    return os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")])


def prepare(
    *,
    database: str = "auto",
    mariadb: MariaDB | None = None,
    database_name: str = BENCH_DATABASE,
    redis_host: str = "127.0.0.1",
    redis_port: int = BENCH_REDIS_PORT,
    redis_db: int = BENCH_REDIS_DB,
) -> AppEnvironment:
    """A temp folder, a fresh database (MariaDB when it answers, else SQLite) and a flushed
    Redis db, with the production settings (`APP_ENV=production`, `PAYMENT_SANDBOX=0`, a
    generated `SECRET_KEY`). Nothing is migrated or seeded yet."""
    if redis_db in (0, 15):
        raise ValueError("Redis db 0 belongs to `make run` and 15 to the tests")
    redis_url = f"redis://{redis_host}:{redis_port}/{redis_db}"
    redis.Redis.from_url(redis_url, socket_connect_timeout=2).flushdb()  # fails loudly

    workdir = Path(tempfile.mkdtemp(prefix="luffy-bench-"))
    mariadb = mariadb or MariaDB()
    use_mariadb = database == "mariadb" or (database == "auto" and mariadb.answers())
    if use_mariadb:
        mariadb.recreate(database_name)
        database_url = mariadb.url(database_name)
        kind = "mariadb"
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        kind = "sqlite"
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAYMENT_SANDBOX": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_DIR": str(workdir / "instance"),
        "STATIC_INDEX_DIR": str(workdir / "generated"),
        "UPLOAD_FOLDER": str(workdir / "uploads"),
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "FLASK_DEBUG": "0",
    }
    return AppEnvironment(
        workdir=workdir,
        database_kind=kind,
        database_url=database_url,
        redis_url=redis_url,
        env=env,
        mariadb=mariadb if use_mariadb else None,
        database_name=database_name if use_mariadb else None,
    )
