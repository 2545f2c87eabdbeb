"""The application factory: `create_app()` builds a configured app with everything registered."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from config import load_config

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None, env: str | None = None) -> Flask:
    """Build the app for `env` (default: APP_ENV), with `test_config` applied last."""
    config = load_config(env, overrides=test_config)
    app = Flask(__name__, instance_path=str(Path(config["INSTANCE_DIR"]).resolve()))
    app.config.from_mapping(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("mysql"):
        # Each statement sees what others committed before it (not a snapshot of the first read):
        # state changes are conditional UPDATEs, which need no older snapshot, and fewer gap
        # locks mean fewer deadlocks.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "isolation_level": "READ COMMITTED",
            **database_timeouts(app.config),
        }
    replica_url = app.config.get("DATABASE_REPLICA_URL")
    if replica_url:
        from app.replica import replica_bind

        app.config["SQLALCHEMY_BINDS"] = {
            **(app.config.get("SQLALCHEMY_BINDS") or {}),
            "replica": replica_bind(app.config, replica_url),
        }
    Path(app.config["UPLOAD_FOLDER"]).mkdir(parents=True, exist_ok=True)
    Path(app.config["MEDIA_FOLDER"]).mkdir(parents=True, exist_ok=True)
    Path(app.config["STATIC_INDEX_DIR"]).mkdir(parents=True, exist_ok=True)

    from app import ids

    ids.register(app)  # `<int:>` refuses ids no database holds (404): before any route
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def database_timeouts(config: dict[str, Any]) -> dict[str, Any]:
    """A down or frozen database gives up within DB_CONNECT_TIMEOUT / DB_READ_TIMEOUT seconds
    (then 503 `unavailable`), and a request waits no longer than that for a pooled connection."""
    return {
        "connect_args": {
            "connect_timeout": config["DB_CONNECT_TIMEOUT"],
            "read_timeout": config["DB_READ_TIMEOUT"],
            "write_timeout": config["DB_READ_TIMEOUT"],
        },
        "pool_timeout": config["DB_CONNECT_TIMEOUT"],
    }


def register_extensions(app: Flask) -> None:
    from flask_babel import lazy_gettext
    from flask_session import Session

    from app import database, i18n, models, replica, security  # noqa: F401  (the metadata sees every table)
    from app.extensions import babel, cache, csrf, db, login_manager, migrate, queue, redis_store
    from app.services import catalog_cache

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).resolve().parent.parent / "migrations"),
        compare_type=True,
        render_as_batch=True,
    )
    redis_store.init_app(app)
    cache.init_app(
        app,
        config={
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_HOST": redis_store.raw,
            "CACHE_KEY_PREFIX": app.config["CACHE_KEY_PREFIX"],
            "CACHE_DEFAULT_TIMEOUT": app.config["CATALOG_CACHE_SECONDS"],
        },
    )
    app.config.update(
        SESSION_TYPE="redis",
        SESSION_REDIS=redis_store.raw,
        SESSION_KEY_PREFIX="session:",
        SESSION_PERMANENT=True,
        SESSION_USE_SIGNER=False,
    )
    Session(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in to see this page.")
    login_manager.localize_callback = str  # flash words, not a lazy string (msgpack sessions)
    babel.init_app(app, locale_selector=i18n.select_locale)
    queue.init_app(app)
    catalog_cache.init_app(app)
    security.init_app(app)  # rate limits, ProxyFix, CORS, security headers
    replica.init_app(app)  # catalog reads on DATABASE_REPLICA_URL, when set

    from app.models import User

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # The id carries the user's session generation: a password change ends old sessions.
        ident, _, generation = user_id.partition(":")
        if not ident.isdigit() or not generation.isdigit():
            return None
        user = db.session.get(User, int(ident))
        if user is None or not user.active or user.session_generation != int(generation):
            return None
        return user


def register_blueprints(app: Flask) -> None:
    from app.blueprints.api import bp as api_bp
    from app.blueprints.auth import bp as auth_bp
    from app.blueprints.coupons import bp as coupons_bp
    from app.blueprints.courses import bp as courses_bp
    from app.blueprints.main import bp as main_bp
    from app.blueprints.media import bp as media_bp
    from app.blueprints.payments import bp as payments_bp
    from app.blueprints.shop import bp as shop_bp
    from app.extensions import csrf

    app.register_blueprint(main_bp)
    app.register_blueprint(courses_bp)
    app.register_blueprint(coupons_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(shop_bp)
    app.register_blueprint(media_bp)  # uploaded images; staff upload them from the editor
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)  # the API authenticates with tokens, never with cookies

    from app.admin import init_admin

    init_admin(app)  # the staff pages under /admin/

    from app.blueprints import kept_answers

    kept_answers.init_app(app)  # anonymous catalog reads answered again before Flask


def register_errorhandlers(app: Flask) -> None:
    from app.blueprints.errors import register

    register(app)


def register_commands(app: Flask) -> None:
    from app.commands import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from app.templating import register

    register(app)
