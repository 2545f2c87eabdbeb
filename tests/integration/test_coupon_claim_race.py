"""Claims racing on the real MariaDB: a coupon's quantity and one record per student hold."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from app import unit_of_work
from app.extensions import db
from app.models import Coupon, CouponRecord, User
from app.services import coupons
from app.services.errors import DomainError
from tests.factories import CouponFactory, UserFactory

# Threads (or a worker) with connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.mariadb]


def race(app, user_ids: list[int], coupon_id: int) -> Counter:
    """Each user id claims in a thread of its own, all let go at once; the outcomes by slug."""
    barrier = threading.Barrier(len(user_ids))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def claim(user_id: int) -> None:
        with app.app_context():  # a session (and a connection) of this thread's own
            user = db.session.get(User, user_id)
            db.session.rollback()  # start afresh, as a request would, after the barrier

            barrier.wait(timeout=30)
            try:
                unit_of_work.run(lambda: coupons.claim_coupon(user, coupon_id))
                outcome = "claimed"
            except DomainError as exc:
                outcome = exc.slug
            except Exception as exc:  # every outcome counts, a crash too
                outcome = f"error: {exc!r}"
            finally:
                db.session.remove()
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=claim, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def stored(coupon_id: int) -> tuple[int, int, int]:
    """The coupon's count, its records, and the distinct students among them."""
    db.session.rollback()
    claimed = db.session.scalar(select(Coupon.claimed).where(Coupon.id == coupon_id))
    records, students = db.session.execute(
        select(func.count(CouponRecord.id), func.count(func.distinct(CouponRecord.user_id))).where(
            CouponRecord.coupon_id == coupon_id
        )
    ).one()
    return claimed, records, students


def test_twenty_students_racing_for_five_coupons_get_exactly_five(app, mariadb):
    coupon_id = CouponFactory(quantity=5).id
    user_ids = [UserFactory().id for _ in range(20)]
    outcomes = race(app, user_ids, coupon_id)
    assert outcomes == {"claimed": 5, "coupon_sold_out": 15}
    assert stored(coupon_id) == (5, 5, 5)


def test_one_student_claiming_from_eight_threads_gets_one_record(app, mariadb):
    coupon_id = CouponFactory(quantity=None).id
    user_id = UserFactory().id
    outcomes = race(app, [user_id] * 8, coupon_id)
    assert outcomes == {"claimed": 1, "already_claimed": 7}
    assert stored(coupon_id) == (1, 1, 1)


def test_one_student_from_eight_threads_on_a_limited_coupon(app, mariadb):
    coupon_id = CouponFactory(quantity=3).id
    user_id = UserFactory().id
    outcomes = race(app, [user_id] * 8, coupon_id)
    assert outcomes["claimed"] == 1
    assert sum(outcomes.values()) == 8
    assert set(outcomes) <= {"claimed", "already_claimed"}
    assert stored(coupon_id) == (1, 1, 1)
