"""Staff issuing a coupon while other staff issue it and students claim it, on the real MariaDB:
never more records than the quantity, never two records for one student, and the count always
equal to the records."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from app import unit_of_work
from app.extensions import db
from app.models import Coupon, CouponRecord, User
from app.services import coupon_issuing, coupons
from app.services.errors import DomainError
from tests.factories import CouponFactory, UserFactory

# Threads (or a worker) with connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.mariadb, pytest.mark.usefixtures("mariadb")]


def run_together(app, jobs: list) -> list:
    """Run each job (a function of no arguments, one unit of work) in a thread with a session
    of its own, all let go at the same moment; what each returned, or the slug it was refused
    with, or the error it crashed with."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index: int, job) -> None:
        with app.app_context():
            db.session.rollback()
            barrier.wait(timeout=30)
            try:
                results[index] = unit_of_work.run(job)
            except DomainError as exc:
                results[index] = exc.slug
            except Exception as exc:  # every outcome counts, a crash too
                results[index] = f"error: {exc!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


def issuing(coupon_id: int, usernames: list[str] | None):
    return lambda: coupon_issuing.issue_coupon(coupon_id, usernames)


def claiming(coupon_id: int, user_id: int):
    def job() -> str:
        coupons.claim_coupon(db.session.get(User, user_id), coupon_id)
        return "claimed"

    return job


def stored(coupon_id: int) -> tuple[int, int, int]:
    """The coupon's count, its records, and the distinct users among them."""
    db.session.rollback()
    claimed = db.session.scalar(select(Coupon.claimed).where(Coupon.id == coupon_id))
    records, users = db.session.execute(
        select(func.count(CouponRecord.id), func.count(func.distinct(CouponRecord.user_id))).where(
            CouponRecord.coupon_id == coupon_id
        )
    ).one()
    return claimed, records, users


def test_two_issues_and_twelve_claims_on_five_coupons_hand_out_five(app):
    coupon_id = CouponFactory(quantity=5).id
    students = [UserFactory() for _ in range(12)]
    names = [s.username for s in students]
    jobs = [
        issuing(coupon_id, names),
        issuing(coupon_id, None),  # every active student
        *(claiming(coupon_id, s.id) for s in students),
    ]
    results = run_together(app, jobs)

    issues, claims = results[:2], results[2:]
    assert all(isinstance(r, coupon_issuing.IssueResult) for r in issues), issues
    assert set(claims) <= {"claimed", "coupon_sold_out", "already_claimed"}, claims
    handed_out = sum(len(r.issued) for r in issues) + claims.count("claimed")
    assert handed_out == 5
    assert stored(coupon_id) == (5, 5, 5)
    for result in issues:  # everyone named is accounted for, once
        accounted = result.issued + result.already_held + result.sold_out
        assert sorted(accounted) == sorted(names)


def test_issuing_to_one_student_from_many_sides_gives_one_record(app):
    coupon_id = CouponFactory(quantity=None).id
    student = UserFactory()
    jobs = [issuing(coupon_id, [student.username]) for _ in range(4)]
    jobs += [issuing(coupon_id, None) for _ in range(2)]
    jobs += [claiming(coupon_id, student.id) for _ in range(4)]
    results = run_together(app, jobs)

    issued = sum(len(r.issued) for r in results if isinstance(r, coupon_issuing.IssueResult))
    claimed = results.count("claimed")
    assert issued + claimed == 1, results
    assert not [r for r in results if isinstance(r, str) and r.startswith("error")], results
    assert stored(coupon_id) == (1, 1, 1)


def test_a_quantity_of_one_raced_by_issues_and_claims(app):
    coupon_id = CouponFactory(quantity=1).id
    students = [UserFactory() for _ in range(6)]
    jobs = [issuing(coupon_id, [s.username for s in students]) for _ in range(3)]
    jobs += [claiming(coupon_id, s.id) for s in students]
    results = run_together(app, jobs)

    issued = sum(len(r.issued) for r in results if isinstance(r, coupon_issuing.IssueResult))
    assert issued + results.count("claimed") == 1, results
    assert stored(coupon_id) == (1, 1, 1)
