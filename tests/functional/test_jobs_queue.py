"""Jobs wait for the commit that needs them, and never run for a rolled-back transaction."""

from __future__ import annotations

from app.extensions import db, queue
from app.jobs import job_context
from tests.factories import UserFactory

seen: list[str] = []


def record_username(user_id: int) -> None:
    """A job that reads what the transaction committed."""
    from app.models import User

    with job_context():
        seen.append(db.session.get(User, user_id).username)


def test_a_job_runs_after_the_commit_and_sees_its_data(app):
    seen.clear()
    user = UserFactory.build(username="alice")
    db.session.add(user)
    db.session.flush()
    queue.enqueue_after_commit(db.session, record_username, user.id)
    assert seen == []
    db.session.commit()
    assert seen == ["alice"]


def test_a_rolled_back_transaction_enqueues_nothing(app):
    seen.clear()
    user = UserFactory.build(username="bob")
    db.session.add(user)
    db.session.flush()
    queue.enqueue_after_commit(db.session, record_username, user.id)
    db.session.rollback()
    db.session.commit()
    assert seen == []
