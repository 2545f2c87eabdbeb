"""`GET /healthz`: 200 when the database and Redis answer, 503 naming the one that does not."""

from __future__ import annotations

import redis
from sqlalchemy.exc import OperationalError

from app import health


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"db": "ok", "redis": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_redis_down_is_a_503_naming_redis(app, client, monkeypatch):
    def refuse(self):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(health.HealthChecks, "redis_answers", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "ok", "redis": "unavailable"}


def test_database_down_is_a_503_naming_the_database(client, monkeypatch):
    def refuse(self):
        raise OperationalError("SELECT 1", {}, Exception("Can't connect"))

    monkeypatch.setattr(health.HealthChecks, "database_answers", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"db": "unavailable", "redis": "ok"}


def test_no_login_is_needed_and_no_session_is_made(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
