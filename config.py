"""Configuration classes, read from the environment (CONTRACT.md, "Configuration").

Classes hold the defaults of each environment; `load_config` reads the environment when an app
is made (not at import), so a test can set a variable and build an app that sees it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BASE_DIR = Path(__file__).resolve().parent


class ConfigError(RuntimeError):
    """The environment does not describe a configuration the app may start with."""


def parse_flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def development_secret_key(instance_dir: Path) -> str:
    """One key for every process of a development checkout, made once, never committed."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it this very moment
            key = path.read_text().strip()
            if key:
                return key
            import time

            time.sleep(0.02)
        raise ConfigError(f"{path} is empty: delete it and start again") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Config:
    """Defaults shared by every environment; subclasses change what differs."""

    ENV_NAME = "base"
    TESTING = False
    DEBUG = False

    INSTANCE_DIR = str(BASE_DIR / "instance")
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite file in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True, "pool_recycle": 3600}

    REDIS_URL = "redis://127.0.0.1:6379/0"
    # Optional Sentinels ("host:port" each) and the name of the master they watch: every Redis
    # user then follows the master they name (database number and password from REDIS_URL).
    REDIS_SENTINELS: ClassVar[list[str]] = []
    REDIS_SENTINEL_MASTER: str | None = None
    # Seconds before a Redis command gives up (then 503 `unavailable`): nothing waits for ever.
    REDIS_SOCKET_TIMEOUT = 3.0
    # Seconds before a database connect or read gives up (then 503 `unavailable`).
    DB_CONNECT_TIMEOUT = 5
    DB_READ_TIMEOUT = 15
    # Optional read replica: catalog reads may go there (a second bind, "replica").
    DATABASE_REPLICA_URL: str | None = None
    # A replica further behind the primary than this (seconds) is not read from.
    DATABASE_REPLICA_MAX_LAG = 5
    # When no Redis answers: False refuses to start, True uses an in-process store (loudly).
    REDIS_EMBEDDED_FALLBACK = False

    CAPTCHA_ENABLED = True
    # ALTCHA proof of work: PBKDF2 iterations per attempt, the largest counter to find, and
    # how long a challenge may be solved in.
    CAPTCHA_ALGORITHM = "PBKDF2/SHA-256"
    CAPTCHA_COST = 5_000
    CAPTCHA_MAX_NUMBER = 1_000
    CAPTCHA_EXPIRES_SECONDS = 300
    RATELIMIT_ENABLED = True
    # Where the limiter counts: None means REDIS_URL (or memory when Redis is in-process).
    RATELIMIT_STORAGE_URI: str | None = None
    # How many proxies in front of the app set X-Forwarded-For / -Proto; 0: none, the
    # connection's own address is the client's (a client could forge the headers otherwise).
    PROXY_FIX_X_FOR = 0
    # Strict-Transport-Security: only where the site is served over HTTPS, i.e. production.
    HSTS_ENABLED = False
    PAYMENT_SANDBOX = True

    ALIPAY_APP_ID: str | None = None
    ALIPAY_APP_PRIVATE_KEY_PATH: str | None = None
    ALIPAY_PUBLIC_KEY_PATH: str | None = None
    ALIPAY_GATEWAY_URL: str | None = None
    ALIPAY_SELLER_ID: str | None = None
    # The sandbox gateway's own app and seller: what its notifications name (never Alipay's).
    SANDBOX_APP_ID = "sandbox-app"
    SANDBOX_SELLER_ID = "2088000000000000"

    # The site's outside address for the gateway (notify_url, return_url). None: the address
    # each request came in on (development, testing); production requires it.
    PUBLIC_BASE_URL: str | None = None
    ORDER_PAYMENT_TIMEOUT_MINUTES = 30
    REFUND_WINDOW_DAYS = 7
    STATIC_INDEX_DIR = str(BASE_DIR / "app" / "static" / "generated")
    UPLOAD_FOLDER: str | None = None  # None: instance/uploads
    # An uploaded image: at most this many bytes, and pixels (checked from its header).
    UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    UPLOAD_MAX_PIXELS = 25_000_000
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024
    # Lesson videos (app/services/media.py): where they live, how long a signed URL is
    # honoured, the largest upload, and the nginx prefix to hand files to (None: sent by us).
    MEDIA_FOLDER: str | None = None  # None: instance/media
    MEDIA_URL_TTL_SECONDS = 7200
    MEDIA_MAX_BYTES = 2 * 1024 * 1024 * 1024
    MEDIA_ACCEL_REDIRECT: str | None = None
    # Where seed-demo keeps the lesson videos it encoded, to copy rather than encode again
    # (None: MEDIA_FOLDER/.demo; the tests share one for the whole run).
    DEMO_MEDIA_CACHE: str | None = None
    CORS_ORIGINS: ClassVar[list[str]] = []

    # Catalog reads are cached in Redis; bumping the catalog version invalidates them all.
    CATALOG_CACHE_SECONDS = 600
    CACHE_KEY_PREFIX = "cache:"
    # Each process keeps the catalog's version, told of every change by Redis (CLIENT TRACKING):
    # a warm catalog read then makes no round trip at all. Off: the version is read from Redis
    # on every request (another process's change is then seen on the very next request, not
    # within a millisecond or so).
    CATALOG_VERSION_WATCH = True
    # Whole answers to anonymous catalog reads each process keeps (app/blueprints/kept_answers.py).
    KEPT_ANSWERS_ENTRIES = 512

    # The zone in which pages show times to people (the API and the database speak UTC).
    DISPLAY_TIMEZONE = "Asia/Shanghai"

    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("zh", "en")

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    # A session (in Redis) and its cookie expire together, 14 days after the session last
    # changed (a login, a password change): not refreshed by every page view, so a stolen
    # cookie does not live for ever.
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    SESSION_REFRESH_EACH_REQUEST = False

    # Jobs run inline in the web process (no worker) when Redis is embedded or tests ask.
    RQ_INLINE = False

    @classmethod
    def validate(cls, config: Mapping[str, Any]) -> None:
        """Refuse configurations that must never run; subclasses add their own rules."""
        if config["ORDER_PAYMENT_TIMEOUT_MINUTES"] < 1:
            raise ConfigError("ORDER_PAYMENT_TIMEOUT_MINUTES must be at least 1")
        if config["REFUND_WINDOW_DAYS"] < 0:
            raise ConfigError("REFUND_WINDOW_DAYS must not be negative")
        if config["MAX_CONTENT_LENGTH"] < 1024:
            raise ConfigError("MAX_CONTENT_LENGTH must be at least 1024 bytes")
        if config["PROXY_FIX_X_FOR"] < 0:
            raise ConfigError("PROXY_FIX_X_FOR must not be negative")
        if config["DB_CONNECT_TIMEOUT"] <= 0 or config["DB_READ_TIMEOUT"] <= 0:
            raise ConfigError("DB_CONNECT_TIMEOUT and DB_READ_TIMEOUT must be positive")
        if bool(config["REDIS_SENTINELS"]) != bool(config["REDIS_SENTINEL_MASTER"]):
            raise ConfigError("REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together")
        if config["UPLOAD_MAX_BYTES"] < 1 or config["UPLOAD_MAX_PIXELS"] < 1:
            raise ConfigError("UPLOAD_MAX_BYTES and UPLOAD_MAX_PIXELS must be at least 1")
        if config["MEDIA_URL_TTL_SECONDS"] < 60:
            raise ConfigError("MEDIA_URL_TTL_SECONDS must be at least 60")
        if config["MEDIA_MAX_BYTES"] < 1:
            raise ConfigError("MEDIA_MAX_BYTES must be at least 1")
        accel = config.get("MEDIA_ACCEL_REDIRECT")
        if accel and not (accel.startswith("/") and accel.endswith("/")):
            raise ConfigError("MEDIA_ACCEL_REDIRECT must be a path that starts and ends with /")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    REDIS_EMBEDDED_FALLBACK = True


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    REDIS_URL = "redis://127.0.0.1:6379/15"
    REDIS_EMBEDDED_FALLBACK = True
    WTF_CSRF_ENABLED = False
    CAPTCHA_ENABLED = False
    RATELIMIT_ENABLED = False
    RQ_INLINE = True
    # Tests change the catalog from "other processes" (other apps) and read at once: strict.
    CATALOG_VERSION_WATCH = False


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    HSTS_ENABLED = True
    PAYMENT_SANDBOX = False

    @classmethod
    def validate(cls, config: Mapping[str, Any]) -> None:
        super().validate(config)
        if not config.get("SECRET_KEY"):
            raise ConfigError("production refuses to start without SECRET_KEY")
        if not config.get("SQLALCHEMY_DATABASE_URI"):
            raise ConfigError("production refuses to start without DATABASE_URL")
        if config["PAYMENT_SANDBOX"]:
            raise ConfigError("production refuses to start with PAYMENT_SANDBOX on")
        if not config.get("PUBLIC_BASE_URL"):
            raise ConfigError(
                "production refuses to start without PUBLIC_BASE_URL (the site's outside "
                "address, for the payment gateway's notify and return URLs)"
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def parse_zone(raw: str) -> str:
    """An IANA zone name such as Asia/Shanghai (an unknown one is refused at start-up)."""
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {raw!r}") from exc
    return raw


# environment variable -> (config key, parser)
ENVIRONMENT: dict[str, tuple[str, Callable[[str], Any]]] = {
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "REDIS_URL": ("REDIS_URL", str),
    "CAPTCHA_ENABLED": ("CAPTCHA_ENABLED", parse_flag),
    "RATELIMIT_ENABLED": ("RATELIMIT_ENABLED", parse_flag),
    "PAYMENT_SANDBOX": ("PAYMENT_SANDBOX", parse_flag),
    "ALIPAY_APP_ID": ("ALIPAY_APP_ID", str),
    "ALIPAY_APP_PRIVATE_KEY_PATH": ("ALIPAY_APP_PRIVATE_KEY_PATH", str),
    "ALIPAY_PUBLIC_KEY_PATH": ("ALIPAY_PUBLIC_KEY_PATH", str),
    "ALIPAY_GATEWAY_URL": ("ALIPAY_GATEWAY_URL", str),
    "ALIPAY_SELLER_ID": ("ALIPAY_SELLER_ID", str),
    "PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", lambda v: v.rstrip("/")),
    "ORDER_PAYMENT_TIMEOUT_MINUTES": ("ORDER_PAYMENT_TIMEOUT_MINUTES", int),
    "REFUND_WINDOW_DAYS": ("REFUND_WINDOW_DAYS", int),
    "STATIC_INDEX_DIR": ("STATIC_INDEX_DIR", str),
    "UPLOAD_FOLDER": ("UPLOAD_FOLDER", str),
    "UPLOAD_MAX_BYTES": ("UPLOAD_MAX_BYTES", int),
    "UPLOAD_MAX_PIXELS": ("UPLOAD_MAX_PIXELS", int),
    "MAX_CONTENT_LENGTH": ("MAX_CONTENT_LENGTH", int),
    "MEDIA_FOLDER": ("MEDIA_FOLDER", str),
    "MEDIA_URL_TTL_SECONDS": ("MEDIA_URL_TTL_SECONDS", int),
    "MEDIA_MAX_BYTES": ("MEDIA_MAX_BYTES", int),
    "MEDIA_ACCEL_REDIRECT": ("MEDIA_ACCEL_REDIRECT", str),
    "DEMO_MEDIA_CACHE": ("DEMO_MEDIA_CACHE", str),
    "CORS_ORIGINS": ("CORS_ORIGINS", parse_list),
    "CATALOG_VERSION_WATCH": ("CATALOG_VERSION_WATCH", parse_flag),
    "PROXY_FIX_X_FOR": ("PROXY_FIX_X_FOR", int),
    "INSTANCE_DIR": ("INSTANCE_DIR", str),
    "DISPLAY_TIMEZONE": ("DISPLAY_TIMEZONE", parse_zone),
    "DB_CONNECT_TIMEOUT": ("DB_CONNECT_TIMEOUT", int),
    "DB_READ_TIMEOUT": ("DB_READ_TIMEOUT", int),
    "DATABASE_REPLICA_URL": ("DATABASE_REPLICA_URL", str),
    "REDIS_SENTINELS": ("REDIS_SENTINELS", parse_list),
    "REDIS_SENTINEL_MASTER": ("REDIS_SENTINEL_MASTER", str),
}
# The tests' own servers, so that `make test` never touches the development database.
TEST_ENVIRONMENT = {
    "TEST_DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "TEST_REDIS_URL": ("REDIS_URL", str),
}


def config_class(name: str | None = None) -> type[Config]:
    name = (name or os.environ.get("APP_ENV") or "development").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError as exc:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, got {name!r}") from exc


def load_config(
    name: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The settings of one app: class defaults, then the environment, then `overrides`."""
    environ = os.environ if environ is None else environ
    cls = config_class(name or environ.get("APP_ENV"))
    config = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    variables = dict(ENVIRONMENT)
    if cls is TestingConfig:
        # Tests never read the development servers' addresses, only their own.
        for variable in ("DATABASE_URL", "REDIS_URL", "DATABASE_REPLICA_URL"):
            variables.pop(variable)
        variables.pop("REDIS_SENTINELS")
        variables.pop("REDIS_SENTINEL_MASTER")
        variables.update(TEST_ENVIRONMENT)
    for variable, (key, parse) in variables.items():
        raw = environ.get(variable)
        if raw is None or raw.strip() == "":
            continue
        try:
            config[key] = parse(raw.strip())
        except ValueError as exc:
            raise ConfigError(f"{variable} is not valid: {raw!r}") from exc
    config.update(overrides or {})

    instance_dir = Path(config["INSTANCE_DIR"])
    if not config.get("SQLALCHEMY_DATABASE_URI") and cls is not ProductionConfig:
        instance_dir.mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_dir / 'luffy.sqlite3'}"
    if not config.get("UPLOAD_FOLDER"):
        config["UPLOAD_FOLDER"] = str(instance_dir / "uploads")
    if not config.get("MEDIA_FOLDER"):
        config["MEDIA_FOLDER"] = str(instance_dir / "media")
    cls.validate(config)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = development_secret_key(instance_dir)
    config["CONFIG_CLASS"] = cls
    return config
