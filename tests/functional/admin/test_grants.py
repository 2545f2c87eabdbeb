"""Staff give, extend and revoke a student's access from the student's access page: each grant
has a reason and the staff member's name, counts through the one entitlement rule (the
enrollment it derives is what lets the student study), stays listed once revoked, and a refused
form changes nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AccessGrant, Enrollment
from app.models.types import UTC, utcnow
from app.services import enrollment
from tests.factories import CourseFactory, UserFactory
from tests.pages import html


@pytest.fixture
def student(app):
    return UserFactory(username="lily")


@pytest.fixture
def course(app):
    return CourseFactory(name="Flask 进阶")


def access_page(staff_client, student) -> str:
    return html(staff_client.get(f"/admin/users/access/?id={student.id}"))


def give(staff_client, student, course, **fields):
    data = {"grant-product": course.id, "grant-reason": "补偿：直播事故", **fields}
    return staff_client.post(f"/admin/users/access/?id={student.id}", data=data)


def grants_of(student) -> list[AccessGrant]:
    db.session.expire_all()
    return list(db.session.scalars(select(AccessGrant).where(AccessGrant.user_id == student.id)))


def enrollment_of(student, course) -> Enrollment | None:
    db.session.expire_all()
    return db.session.scalar(
        select(Enrollment).where(
            Enrollment.user_id == student.id, Enrollment.product_id == course.id
        )
    )


def test_a_grant_lets_the_student_study_and_names_who_gave_it_and_why(
    staff_client, staff, student, course
):
    assert not enrollment.can_study(student.id, course.id, utcnow())
    response = give(staff_client, student, course, **{"grant-days": "30"})
    assert response.status_code == 302

    (grant,) = grants_of(student)
    assert (grant.product_id, grant.valid_period, grant.reason) == (course.id, 30, "补偿：直播事故")
    assert grant.granted_by_id == staff.id
    assert enrollment.can_study(student.id, course.id, utcnow())
    ends = enrollment_of(student, course).valid_until
    assert timedelta(days=29, hours=23) < ends - utcnow() <= timedelta(days=30)

    page = access_page(staff_client, student)
    assert "Access given to lily." in page
    assert "Given by boss on" in page
    assert "补偿：直播事故" in page
    assert "1 month" in page  # 30 days, as the shop words periods


def test_a_second_grant_extends_after_the_access_already_given(staff_client, student, course):
    give(staff_client, student, course, **{"grant-days": "30"})
    first_end = enrollment_of(student, course).valid_until
    give(staff_client, student, course, **{"grant-days": "30", "grant-reason": "再送一个月"})
    assert len(grants_of(student)) == 2
    assert enrollment_of(student, course).valid_until - first_end == timedelta(days=30)


def test_an_end_is_typed_in_the_shops_time_and_stored_in_utc(app, staff_client, student, course):
    year = utcnow().year + 1
    give(staff_client, student, course, **{"grant-until": f"{year}-12-01 00:00"})
    (grant,) = grants_of(student)
    shop = ZoneInfo(app.config["DISPLAY_TIMEZONE"])
    assert grant.valid_until == datetime(year, 12, 1, tzinfo=shop).astimezone(UTC)
    assert grant.valid_period is None
    assert enrollment_of(student, course).valid_until == grant.valid_until
    assert f"until {year}-12-01 00:00 UTC+8" in access_page(staff_client, student)


def test_revoking_takes_the_access_back_and_keeps_the_grant_listed(
    staff_client, staff, student, course
):
    give(staff_client, student, course, **{"grant-days": "0"})
    (grant,) = grants_of(student)
    assert enrollment.can_study(student.id, course.id, utcnow())

    response = staff_client.post(
        f"/admin/users/access/revoke/{grant.id}", data={"revoke-reason": "发错了人"}
    )
    assert response.status_code == 302
    (grant,) = grants_of(student)
    assert grant.revoked_by_id == staff.id
    assert grant.revoke_reason == "发错了人"
    assert not enrollment.can_study(student.id, course.id, utcnow())

    page = access_page(staff_client, student)
    assert "The grant was revoked." in page
    assert "Revoked by boss on" in page
    assert "发错了人" in page
    assert f"/admin/users/access/revoke/{grant.id}" not in page  # no second revoke button


def test_a_revoke_without_a_reason_changes_nothing(staff_client, student, course):
    give(staff_client, student, course, **{"grant-days": "7"})
    (grant,) = grants_of(student)
    staff_client.post(f"/admin/users/access/revoke/{grant.id}", data={"revoke-reason": " "})
    assert grants_of(student)[0].revoked_at is None
    assert enrollment.can_study(student.id, course.id, utcnow())


def test_a_grant_refused_by_the_rule_says_why_next_to_the_field(staff_client, student, course):
    page = html(give(staff_client, student, course, **{"grant-reason": "x"}))  # no period
    assert "Give either a number of days or an end date." in page
    page = html(
        give(
            staff_client, student, course, **{"grant-days": "3", "grant-until": "2020-01-01 00:00"}
        )
    )
    assert "Give either a number of days or an end date." in page
    page = html(give(staff_client, student, course, **{"grant-days": "3", "grant-reason": ""}))
    assert re.search(r"invalid-feedback|help-block", page)
    assert grants_of(student) == []
    assert enrollment_of(student, course) is None


def test_paid_access_and_a_grant_add_up_and_a_revoke_leaves_what_was_paid(
    staff_client, student, course
):
    from tests.shop_data import make_order

    make_order(
        student, lines=[(course, "99.00", "0.00", "0.00")], created_at=utcnow() - timedelta(hours=1)
    )
    enrollment.refresh_enrollments(student.id, [course.id], utcnow())
    db.session.commit()
    paid_end = enrollment_of(student, course).valid_until
    give(staff_client, student, course, **{"grant-days": "10"})
    assert enrollment_of(student, course).valid_until - paid_end == timedelta(days=10)

    (grant,) = grants_of(student)
    staff_client.post(f"/admin/users/access/revoke/{grant.id}", data={"revoke-reason": "误发"})
    assert enrollment_of(student, course).valid_until == paid_end
    assert enrollment.can_study(student.id, course.id, utcnow())


def test_the_student_reads_the_grant_as_a_staff_grant_with_its_reason(
    app, client, staff_client, student, course
):
    from tests.pages import sign_in

    give(staff_client, student, course, **{"grant-days": "30", "grant-reason": "直播事故补偿"})
    student_client = app.test_client()
    student_client.set_cookie("lang", "en")
    sign_in(student_client, student)
    page = html(student_client.get("/my/courses"))
    assert "Flask 进阶" in page
    assert "Given by staff member boss on" in page
    assert "直播事故补偿" in page
    assert "1 month" in page

    (grant,) = grants_of(student)
    staff_client.post(f"/admin/users/access/revoke/{grant.id}", data={"revoke-reason": "误发"})
    assert "直播事故补偿" not in html(student_client.get("/my/courses"))
