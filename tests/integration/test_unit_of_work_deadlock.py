"""A real deadlock on MariaDB: two units of work lock two rows in opposite orders; InnoDB picks
one as the victim, the unit of work runs it again, and both end done, each write once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, update

from app import unit_of_work
from app.extensions import db
from app.models import Coupon
from tests.factories import CouponFactory

# Threads (or a worker) with connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.mariadb, pytest.mark.usefixtures("mariadb")]


def test_a_deadlock_victim_is_run_again_and_both_units_commit_once(app):
    first, second = CouponFactory().id, CouponFactory().id
    both_hold_one = threading.Barrier(2)
    tries = {"a": 0, "b": 0}
    results: dict[str, object] = {}

    def bump(coupon_id: int) -> None:
        db.session.execute(
            update(Coupon).where(Coupon.id == coupon_id).values(claimed=Coupon.claimed + 1)
        )

    def unit(name: str, one: int, other: int) -> None:
        def work() -> str:
            tries[name] += 1
            bump(one)
            if tries[name] == 1:  # only the first try meets the other: that makes the deadlock
                both_hold_one.wait(timeout=30)
            bump(other)
            return "done"

        with app.app_context():
            try:
                results[name] = unit_of_work.run(work)
            except Exception as exc:  # every outcome counts, a crash too
                results[name] = f"error: {exc!r}"
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=unit, args=("a", first, second)),
        threading.Thread(target=unit, args=("b", second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert results == {"a": "done", "b": "done"}
    assert sorted(tries.values()) == [1, 2]  # one victim, run again once
    db.session.rollback()
    claimed = db.session.scalars(select(Coupon.claimed).where(Coupon.id.in_([first, second]))).all()
    assert claimed == [2, 2]  # the victim's first try left nothing behind
