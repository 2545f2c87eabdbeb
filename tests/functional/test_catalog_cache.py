"""Catalog reads come from Redis until the catalog changes, then never stale."""

from decimal import Decimal

from sqlalchemy import update

from app.extensions import db
from app.models import Course, PricePolicy, Product
from app.services.catalog_cache import catalog_version
from tests.factories import CourseFactory, TeacherFactory


def names(client):
    return [c["name"] for c in client.get("/api/v1/courses").get_json()["data"]["items"]]


def test_reads_are_served_from_the_cache(client, count_queries):
    CourseFactory(name="Cached")
    names(client)
    client.get("/api/v1/categories")
    with count_queries() as counter:
        assert names(client) == ["Cached"]
        client.get("/api/v1/categories")
    assert counter.count == 0


def test_a_write_that_bypasses_the_orm_is_not_seen_until_a_catalog_change(client):
    course = CourseFactory(name="Before")
    assert names(client) == ["Before"]
    # Raw SQL tells nobody: the cached list stays (which is why writes go through the ORM).
    db.session.execute(update(Product).where(Product.id == course.id).values(name="Raw"))
    db.session.commit()
    assert names(client) == ["Before"]
    CourseFactory(name="Another")  # any catalog change bumps the version
    assert sorted(names(client)) == ["Another", "Raw"]


def test_editing_a_price_invalidates_at_once(client):
    course = CourseFactory(policies=[(30, "99.00")])
    client.get(f"/api/v1/courses/{course.id}")
    version = catalog_version()
    policy = db.session.get(PricePolicy, course.price_policies[0].id)
    policy.price = Decimal("79.00")
    db.session.commit()
    assert catalog_version() == version + 1
    got = client.get(f"/api/v1/courses/{course.id}").get_json()["data"]
    assert got["price_policies"][0]["price"] == "79.00"
    assert (
        client.get("/api/v1/courses").get_json()["data"]["items"][0]["price_policies"][0]["price"]
        == "79.00"
    )


def test_hiding_a_course_takes_effect_at_once(client):
    course = CourseFactory()
    assert client.get(f"/api/v1/courses/{course.id}").status_code == 200
    course.status = "offline"
    db.session.commit()
    assert client.get(f"/api/v1/courses/{course.id}").status_code == 404
    assert names(client) == []


def test_linking_a_teacher_invalidates(client):
    course = CourseFactory()
    client.get(f"/api/v1/courses/{course.id}")
    teacher = TeacherFactory(name="Alex")
    course.teachers.append(teacher)
    db.session.commit()
    got = client.get(f"/api/v1/courses/{course.id}").get_json()["data"]
    assert [t["name"] for t in got["teachers"]] == ["Alex"]


def test_a_rolled_back_change_does_not_bump(app):
    CourseFactory()
    version = catalog_version()
    db.session.add(Course(name="Never", slug="never"))
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert catalog_version() == version


def test_a_change_outside_the_catalog_does_not_bump(app):
    from tests.factories import UserFactory

    version = catalog_version()
    UserFactory()
    assert catalog_version() == version
