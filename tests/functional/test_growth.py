"""What keeps the catalog and the student's orders fast as the shop grows (issue 14): a stored
price to sort by, a FULLTEXT search, and pages read in a fixed number of queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PricePolicy, Product
from tests.api import ok
from tests.factories import CourseFactory, DegreeCourseFactory, UserFactory
from tests.shop_data import make_order


def ids(client, query: str) -> list[int]:
    return [item["id"] for item in ok(client.get(f"/api/v1/courses?{query}"))["items"]]


def sort_price(course) -> Decimal | None:
    db.session.expire_all()
    return db.session.scalar(select(Product.sort_price).where(Product.id == course.id))


# --- the price sorts read a stored price ----------------------------------------------------------


def test_the_stored_price_follows_every_policy_change(app):
    course = CourseFactory(policies=[(30, "50.00"), (0, "20.00")])
    assert sort_price(course) == Decimal("20.00")
    forever = db.session.scalar(
        select(PricePolicy).where(
            PricePolicy.product_id == course.id, PricePolicy.valid_period == 0
        )
    )
    forever.active = False  # retired: no longer the price to sort by
    db.session.commit()
    assert sort_price(course) == Decimal("50.00")
    forever.active, forever.price = True, Decimal("70.00")
    db.session.commit()
    assert sort_price(course) == Decimal("50.00")
    db.session.add(PricePolicy(product_id=course.id, valid_period=7, price=Decimal("5.00")))
    db.session.commit()
    assert sort_price(course) == Decimal("5.00")
    for policy in db.session.scalars(
        select(PricePolicy).where(PricePolicy.product_id == course.id)
    ):
        policy.active = False
    db.session.commit()
    assert sort_price(course) is None


def test_price_sorts_follow_the_cheapest_current_policy(client, app):
    a = CourseFactory(policies=[(30, "300.00"), (0, "10.00")])  # cheapest: 10
    b = CourseFactory(policies=[(30, "50.00")])
    c = CourseFactory(policies=[(30, "99.00")])
    free = CourseFactory(policies=[])  # no price yet: last either way
    assert ids(client, "sort=price_asc") == [a.id, b.id, c.id, free.id]
    assert ids(client, "sort=price_desc") == [c.id, b.id, a.id, free.id]
    cheap = db.session.scalar(select(PricePolicy).where(PricePolicy.price == Decimal("10.00")))
    cheap.active = False  # a now costs 300 at the least
    db.session.commit()
    assert ids(client, "sort=price_asc") == [b.id, c.id, a.id, free.id]
    assert ids(client, "sort=price_desc") == [a.id, c.id, b.id, free.id]


def test_popular_follows_the_enrollments_as_they_come_and_go(client, app):
    from app.models import Enrollment

    a, b, c = (CourseFactory() for _ in range(3))
    students = [UserFactory() for _ in range(3)]
    for student in students:
        db.session.add(Enrollment(user_id=student.id, product_id=b.id))
    db.session.add(Enrollment(user_id=students[0].id, product_id=c.id))
    db.session.commit()
    assert ids(client, "sort=popular") == [b.id, c.id, a.id]
    for enrollment in db.session.scalars(select(Enrollment).where(Enrollment.product_id == b.id)):
        db.session.delete(enrollment)
    db.session.commit()
    app.extensions["redis_store"].raw.flushdb()  # enrollments are not catalog changes
    assert ids(client, "sort=popular") == [c.id, a.id, b.id]


# --- search ---------------------------------------------------------------------------------------


# FULLTEXT sees committed rows only (InnoDB): real commits, not savepoints.
@pytest.mark.real_commits
def test_search_finds_chinese_words_and_pieces_of_them(client, app):
    spider = CourseFactory(name="网络爬虫实战", brief="Scrapy from scratch.")
    data = CourseFactory(name="数据分析入门", brief="Pandas 与 NumPy")
    CourseFactory(name="Go 并发编程", brief="Goroutines.")
    assert ids(client, "q=爬虫") == [spider.id]
    assert ids(client, "q=虫实") == [spider.id]  # across what a word segmenter calls two words
    assert ids(client, "q=数据") == [data.id]
    assert ids(client, "q=numpy") == [data.id]  # the brief, any case
    assert ids(client, "q=scr") == [spider.id]  # the start of a word
    assert ids(client, "q=与 NumPy") == [data.id]
    assert ids(client, "q=爬行") == []
    assert ids(client, "q=NumPy 与") == []  # the words in their order, as written


# FULLTEXT sees committed rows only (InnoDB): real commits, not savepoints.
@pytest.mark.real_commits
def test_a_search_is_run_once_a_page_its_total_riding_along(client, app, count_queries):
    found = [CourseFactory(name=f"爬虫实战 {n}", sort_order=n) for n in range(5)]
    CourseFactory(name="数据分析")

    def page(query: str) -> tuple[list[int], int, int]:
        with count_queries() as counter:
            data = ok(client.get(f"/api/v1/courses?q=爬虫&{query}"))
        searched = [s for s in counter.statements if "LIKE" in s]
        return [item["id"] for item in data["items"]], data["total"], len(searched)

    assert page("per_page=2") == ([found[0].id, found[1].id], 5, 1)
    assert page("per_page=2&page=3") == ([found[4].id], 5, 1)
    assert page("per_page=2&page=4") == ([], 5, 2)  # past the end: counted apart
    with count_queries() as counter:
        assert ok(client.get("/api/v1/courses?q=网络"))["total"] == 0
    assert len([s for s in counter.statements if "LIKE" in s]) == 1


# FULLTEXT sees committed rows only (InnoDB): real commits, not savepoints.
@pytest.mark.real_commits
def test_a_renamed_course_is_found_by_its_new_name(client, app):
    course = CourseFactory(name="旧名字", brief="")
    course.name = "机器学习"
    db.session.commit()
    assert ids(client, "q=机器") == [course.id]
    assert ids(client, "q=旧名") == []


# --- the student's orders -------------------------------------------------------------------------


def _orders_queries(client, count_queries, headers) -> int:
    with count_queries() as counter:
        page = ok(client.get("/api/v1/orders?per_page=12", headers=headers))
    return counter.count, page


def test_my_orders_are_read_in_the_same_queries_for_two_orders_as_for_twelve(
    client, app, count_queries, student, headers
):
    course = CourseFactory()
    for _ in range(2):
        make_order(student, lines=[(course, "10.00", "0.00", "0.00")])
    few, page = _orders_queries(client, count_queries, headers)
    assert len(page["items"]) == 2
    other = CourseFactory()
    for _ in range(12):
        make_order(
            student, lines=[(course, "10.00", "0.00", "0.00"), (other, "5.00", "0.00", "0.00")]
        )
    many, page = _orders_queries(client, count_queries, headers)
    assert len(page["items"]) == 12
    assert all(len(item["lines"]) == 2 for item in page["items"])
    assert many == few
    assert many <= 6  # the token, the count, the page and its lines (not two per order)


def test_an_overdue_order_in_the_list_is_shown_and_stored_expired(client, app, student, headers):
    from datetime import timedelta

    from app.models import Order
    from app.models.types import utcnow

    order = make_order(student, status="pending", created_at=utcnow() - timedelta(hours=2))
    order.expires_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    (item,) = ok(client.get("/api/v1/orders", headers=headers))["items"]
    assert item["status"] == "expired"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "expired"


# --- the course list at any depth ----------------------------------------------------------------


def test_the_course_list_counts_and_pages_without_the_courses_table(client, app, count_queries):
    """The count and the page's ids come from `products` alone (its ix_products_course_*
    indexes), the page's rows then by id; `courses` joins only for a category or a level."""
    made = [CourseFactory(sort_order=n) for n in range(5)]
    DegreeCourseFactory()  # online too, but no course
    for sort in ("default", "newest", "price_asc", "price_desc", "popular"):
        with count_queries() as counter:
            page = ok(client.get(f"/api/v1/courses?sort={sort}&page=2&per_page=2"))
        assert page["total"] == 5  # the degree course is no course
        assert len(page["items"]) == 2
        count, ids_ = counter.statements[:2]
        for statement in (count, ids_):
            assert "courses" not in statement.replace("FROM products", ""), statement
    assert ids(client, "page=1&per_page=100") == [c.id for c in made]
    assert ids(client, "page=3&per_page=2") == [made[4].id]
    assert ids(client, "page=4&per_page=2") == []


def test_the_course_list_filters_by_category_and_level_with_the_courses_table(client, app):
    from app.models import CourseCategory

    web = CourseCategory(name="Web")
    db.session.add(web)
    db.session.commit()
    easy = CourseFactory(level="beginner", category=web)
    CourseFactory(level="advanced", category=web)
    CourseFactory(level="beginner")
    assert ids(client, f"category_id={web.id}&level=beginner") == [easy.id]
    assert ok(client.get(f"/api/v1/courses?category_id={web.id}"))["total"] == 2


def test_a_deep_page_is_read_from_the_listing_index_on_mariadb(client, app, mariadb):
    """What MariaDB plans for each sort's count and page: one of the listing indexes, from
    the index alone (no row read, no join), and no sort for the sorts an index is in order of."""
    from tests.sql_plans import planned

    for n in range(30):
        CourseFactory(sort_order=n % 7, policies=[(30, f"{10 + n}.00")])
    for sort in ("default", "newest", "price_asc", "price_desc", "popular"):
        with planned() as plans:
            ok(client.get(f"/api/v1/courses?sort={sort}&page=3&per_page=5"))
        count, page = plans[0], plans[1]
        for plan in (count, page):
            (read,) = plan.reads("products")
            assert read["key"].startswith("ix_products_course_"), (sort, read)
            assert "Using index" in (read["Extra"] or ""), (sort, read)
            assert not plan.reads("courses"), (sort, plan.rows)
        assert "filesort" not in (page.reads("products")[0]["Extra"] or ""), sort


def test_price_pages_run_through_the_priced_courses_then_the_unpriced(client, app):
    priced = [CourseFactory(sort_order=n, policies=[(30, f"{10 + n}.00")]) for n in range(5)]
    unpriced = [CourseFactory(sort_order=n, policies=[]) for n in range(3)]
    cheap_first = [c.id for c in priced] + [c.id for c in unpriced]
    dear_first = [c.id for c in reversed(priced)] + [c.id for c in unpriced]
    for sort, expected in (("price_asc", cheap_first), ("price_desc", dear_first)):
        pages = [ids(client, f"sort={sort}&page={n}&per_page=3") for n in range(1, 5)]
        assert pages == [expected[0:3], expected[3:6], expected[6:8], []], sort
        assert ok(client.get(f"/api/v1/courses?sort={sort}&page=2&per_page=3"))["total"] == 8
        assert ids(client, f"sort={sort}&per_page=100") == expected
