"""Catalog reads on DATABASE_REPLICA_URL (the `replica` bind), the primary when it fails."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event

from app.extensions import db
from app.services.tokens import issue_token
from tests.api import ok
from tests.conftest import clean_database
from tests.factories import CourseFactory, UserFactory
from tests.servers import closed_port

# Real commits: the replica bind reads through a connection of its own.
pytestmark = pytest.mark.real_commits


@pytest.fixture
def replica_app(make_app, services):
    """An app whose replica is the test database itself (what a replica that caught up is)."""
    app = make_app(DATABASE_REPLICA_URL=services.database_url)
    with app.app_context():
        yield app
        db.session.remove()
        clean_database(app)


def statements_on(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_catalog_reads_go_to_the_replica_and_writes_to_the_primary(replica_app):
    course = CourseFactory(policies=[(30, "99.00")])
    key, _ = issue_token(UserFactory())
    db.session.commit()
    headers = {"Authorization": f"Token {key}"}
    course_id, policy_id = course.id, course.price_policies[0].id  # read before listening
    on_replica = statements_on(db.engines["replica"])
    on_primary = statements_on(db.engines[None])
    client = replica_app.test_client()
    listing = ok(client.get("/api/v1/courses"))
    assert [item["id"] for item in listing["items"]] == [course_id]
    assert any("products" in statement for statement in on_replica)
    assert not any("products" in statement for statement in on_primary), on_primary
    on_replica.clear()
    line = {
        "item_type": "course",
        "item_id": course_id,
        "price_policy_id": policy_id,
    }
    body = {"items": [line], "expected_amount": "99.00", "payment_method": "sandbox"}
    ok(client.post("/api/v1/orders", json=body, headers=headers), 201)
    assert not any(s.lstrip().upper().startswith(("INSERT", "UPDATE")) for s in on_replica)
    assert any(s.lstrip().upper().startswith("INSERT") for s in on_primary)


def test_a_replica_that_does_not_answer_is_skipped_for_the_primary(make_app, caplog):
    replica = f"mysql+pymysql://root@127.0.0.1:{closed_port()}/faults?charset=utf8mb4"
    app = make_app(DATABASE_REPLICA_URL=replica)
    with app.app_context():
        try:
            course = CourseFactory(policies=[(30, "99.00")])
            client = app.test_client()
            with caplog.at_level(logging.WARNING, logger="app.replica"):
                for _ in range(3):
                    listing = ok(client.get("/api/v1/courses"))
                    assert [item["id"] for item in listing["items"]] == [course.id]
                    ok(client.get(f"/api/v1/courses/{course.id}"))
            skipped = [r for r in caplog.records if r.name == "app.replica"]
            assert len(skipped) == 1, "said once, not per request"
            assert "reading the primary" in skipped[0].getMessage()
        finally:
            db.session.remove()
            clean_database(app)
