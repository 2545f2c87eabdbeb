"""Configuration from the environment, and the production settings that refuse to start."""

from __future__ import annotations

import pytest

from config import ConfigError, load_config

PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "DATABASE_URL": "mysql+pymysql://u:p@db/shop?charset=utf8mb4",
    "PUBLIC_BASE_URL": "https://shop.example.com",
}


def test_defaults_in_development(tmp_path):
    config = load_config(environ={"INSTANCE_DIR": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'luffy.sqlite3'}"
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert config["PAYMENT_SANDBOX"] is True
    assert config["ORDER_PAYMENT_TIMEOUT_MINUTES"] == 30
    assert config["REFUND_WINDOW_DAYS"] == 7
    assert config["MAX_CONTENT_LENGTH"] == 10485760
    assert config["CORS_ORIGINS"] == []
    assert config["UPLOAD_FOLDER"] == str(tmp_path / "uploads")
    assert config["STATIC_INDEX_DIR"].endswith("app/static/generated")


def test_the_development_secret_key_is_made_once_and_reused(tmp_path):
    first = load_config(environ={"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    second = load_config(environ={"INSTANCE_DIR": str(tmp_path)})["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_contract_variable_is_read(tmp_path):
    config = load_config(
        environ={
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": "sqlite:///x.db",
            "REDIS_URL": "redis://r:6379/2",
            "SECRET_KEY": "k",
            "CAPTCHA_ENABLED": "0",
            "RATELIMIT_ENABLED": "0",
            "PAYMENT_SANDBOX": "0",
            "ALIPAY_APP_ID": "2021",
            "ALIPAY_APP_PRIVATE_KEY_PATH": "/k/app.pem",
            "ALIPAY_PUBLIC_KEY_PATH": "/k/alipay.pem",
            "ALIPAY_GATEWAY_URL": "https://openapi.alipay.com/gateway.do",
            "ALIPAY_SELLER_ID": "2088",
            "PUBLIC_BASE_URL": "https://shop.example.com/",
            "ORDER_PAYMENT_TIMEOUT_MINUTES": "15",
            "REFUND_WINDOW_DAYS": "3",
            "STATIC_INDEX_DIR": "/srv/index",
            "UPLOAD_FOLDER": "/srv/uploads",
            "MAX_CONTENT_LENGTH": "2048",
            "CORS_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///x.db"
    assert config["REDIS_URL"] == "redis://r:6379/2"
    assert (config["CAPTCHA_ENABLED"], config["RATELIMIT_ENABLED"]) == (False, False)
    assert config["PAYMENT_SANDBOX"] is False
    assert config["ALIPAY_SELLER_ID"] == "2088"
    assert config["PUBLIC_BASE_URL"] == "https://shop.example.com"
    assert config["ORDER_PAYMENT_TIMEOUT_MINUTES"] == 15
    assert config["REFUND_WINDOW_DAYS"] == 3
    assert config["STATIC_INDEX_DIR"] == "/srv/index"
    assert config["UPLOAD_FOLDER"] == "/srv/uploads"
    assert config["MAX_CONTENT_LENGTH"] == 2048
    assert config["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]


def test_production_starts_with_what_it_needs():
    config = load_config(environ=PRODUCTION)
    assert config["PAYMENT_SANDBOX"] is False
    assert config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("drop", "add", "message"),
    [
        ("SECRET_KEY", {}, "SECRET_KEY"),
        ("DATABASE_URL", {}, "DATABASE_URL"),
        (None, {"PAYMENT_SANDBOX": "1"}, "PAYMENT_SANDBOX"),
        ("PUBLIC_BASE_URL", {}, "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_to_start(drop, add, message):
    environ = {k: v for k, v in PRODUCTION.items() if k != drop} | add
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)


def test_public_base_url_is_left_to_the_request_outside_production(tmp_path):
    for env in ("development", "testing"):
        assert load_config(env, environ={"INSTANCE_DIR": str(tmp_path)})["PUBLIC_BASE_URL"] is None


def test_bad_values_are_refused_clearly(tmp_path):
    with pytest.raises(ConfigError, match="ORDER_PAYMENT_TIMEOUT_MINUTES"):
        load_config(environ={"INSTANCE_DIR": str(tmp_path), "ORDER_PAYMENT_TIMEOUT_MINUTES": "x"})
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config(environ={"APP_ENV": "staging"})


def test_tests_never_read_the_development_servers(tmp_path):
    config = load_config(
        "testing",
        environ={"DATABASE_URL": "mysql+pymysql://prod/db", "REDIS_URL": "redis://prod:6379/0"},
    )
    assert "prod" not in config["SQLALCHEMY_DATABASE_URI"]
    assert "prod" not in config["REDIS_URL"]
