"""The catalog pages: the course list and its filters, a course, a degree course, the homepage."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from tests.factories import (
    CategoryFactory,
    ChapterFactory,
    CourseDetailFactory,
    CourseFactory,
    DegreeCourseFactory,
    FAQFactory,
    SectionFactory,
    TeacherFactory,
)
from tests.pages import html


def shown_courses(page: str) -> list[str]:
    """The names of the course cards on a page, in order."""
    return re.findall(r'<a class="course-link" href="/courses/\d+">([^<]*)</a>', page)


# --- the course list ----------------------------------------------------------------------------


def test_the_list_shows_online_courses_only(client):
    CourseFactory(name="Online Python")
    CourseFactory(name="Offline Go", status="offline")
    CourseFactory(name="Upcoming Rust", status="upcoming")
    page = html(client.get("/courses"))
    assert shown_courses(page) == ["Online Python"]
    assert "Offline Go" not in page
    assert "Upcoming Rust" not in page


def test_a_card_shows_the_cheapest_price_and_the_level(client):
    CourseFactory(name="Django", level="advanced", policies=[(30, "1299.00"), (0, "199.50")])
    page = html(client.get("/courses"))
    assert "¥199.50" in page
    assert "¥1,299.00" not in page  # only the lowest price, on a card
    assert "level-advanced" in page


def test_the_category_filter(client):
    web, data = CategoryFactory(name="Web开发"), CategoryFactory(name="数据分析")
    CourseFactory(name="Flask", category=web)
    CourseFactory(name="Pandas", category=data)
    assert shown_courses(html(client.get(f"/courses?category_id={data.id}"))) == ["Pandas"]
    # 0 or not a number means every category, as in the API
    assert sorted(shown_courses(html(client.get("/courses?category_id=0")))) == ["Flask", "Pandas"]
    assert len(shown_courses(html(client.get("/courses?category_id=abc")))) == 2


def test_the_level_filter(client):
    CourseFactory(name="Basics", level="beginner")
    CourseFactory(name="Internals", level="advanced")
    assert shown_courses(html(client.get("/courses?level=advanced"))) == ["Internals"]
    assert len(shown_courses(html(client.get("/courses?level=")))) == 2


def test_an_unknown_level_is_a_bad_request(client):
    html(client.get("/courses?level=guru"), status=400)


# FULLTEXT sees committed rows only (InnoDB): real commits, not savepoints.
@pytest.mark.real_commits
def test_the_keyword_search_matches_name_and_brief(client):
    CourseFactory(name="爬虫实战", brief="Scrapy from scratch.")
    CourseFactory(name="Web basics", brief="HTML, CSS and a little 爬虫.")
    CourseFactory(name="Statistics", brief="Numbers.")
    found = shown_courses(html(client.get("/courses", query_string={"q": "爬虫"})))
    assert sorted(found) == ["Web basics", "爬虫实战"]
    assert shown_courses(html(client.get("/courses?q=scrapy"))) == ["爬虫实战"]


def test_a_search_for_percent_matches_literally(client):
    CourseFactory(name="100% Python")
    CourseFactory(name="Plain")
    assert shown_courses(html(client.get("/courses", query_string={"q": "%"}))) == ["100% Python"]


def test_the_search_is_kept_in_the_form_and_escaped(client):
    page = html(client.get("/courses", query_string={"q": '<b>"x"'}))
    assert 'value="&lt;b&gt;&#34;x&#34;"' in page
    assert '<b>"x"' not in page


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price_asc", ["Cheap", "Middle", "Dear"]),
        ("price_desc", ["Dear", "Middle", "Cheap"]),
        ("default", ["Middle", "Dear", "Cheap"]),
    ],
)
def test_the_sort(client, sort, expected):
    CourseFactory(name="Middle", sort_order=1, policies=[(30, "199.00")])
    CourseFactory(name="Dear", sort_order=2, policies=[(30, "999.00")])
    CourseFactory(name="Cheap", sort_order=3, policies=[(30, "9.90")])
    page = html(client.get(f"/courses?sort={sort}"))
    assert shown_courses(page) == expected
    assert f'<option value="{sort}" selected>' in page


def test_pages_and_a_page_past_the_end(client):
    for number in range(5):
        CourseFactory(name=f"Course #{number}", sort_order=number)
    first = html(client.get("/courses?per_page=2"))
    assert shown_courses(first) == ["Course #0", "Course #1"]
    assert 'href="/courses?per_page=2&amp;page=2"' in first
    last = html(client.get("/courses?per_page=2&page=3"))
    assert shown_courses(last) == ["Course #4"]
    past = html(client.get("/courses?per_page=2&page=9"))
    assert shown_courses(past) == []
    assert "empty-state" in past


@pytest.mark.real_commits  # it searches: MariaDB's FULLTEXT index sees committed rows only
def test_a_page_past_the_end_says_so_and_links_the_first_page(client):
    for number in range(3):
        CourseFactory(name=f"Course #{number}", sort_order=number)
    page = html(client.get("/courses?page=99&q=Course&lang=en"))
    assert "There is nothing on page 99" in page
    assert "3 courses found" not in page  # not a count above an empty list
    assert 'href="/courses?q=Course&amp;lang=en">Go to the first page</a>' in page
    assert "第 99 页没有课程" in html(client.get("/courses?page=99"))


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "page=-1", "per_page=x", "per_page=0", "per_page=1000"]
)
def test_a_page_number_that_does_not_read_shows_the_first_page(client, query):
    CourseFactory(name="Only one")
    page = html(client.get(f"/courses?{query}"))
    assert shown_courses(page) == ["Only one"]


def test_no_pagination_when_everything_fits(client):
    CourseFactory()
    assert 'class="pagination' not in html(client.get("/courses"))


@pytest.mark.parametrize(
    "query",
    ["sort=cheapest", "level=guru"],
)
def test_malformed_list_arguments_are_a_400_page(client, query):
    page = html(client.get(f"/courses?{query}"), status=400)
    assert "error-page" in page
    assert "course-card" not in page


# --- a course -------------------------------------------------------------------------------------


@pytest.fixture
def full_course():
    course = CourseFactory(
        name="Python 全栈",
        level="intermediate",
        policies=[(30, "99.00"), (365, "699.00"), (0, "1299.00")],
    )
    CourseDetailFactory(
        course=course,
        hours=48,
        slogan="从入门到就业",
        why_study="<script>alert(1)</script> because it pays",
        what_to_study="<ul><li>装饰器</li><li>ORM</li></ul>",
    )
    # Made before touching the collections: each factory commits, which expires them.
    teacher = TeacherFactory(name="Alex 老师", title="首席讲师")
    others = [CourseFactory(name="Go 入门"), CourseFactory(name="Hidden One", status="offline")]
    course.teachers.append(teacher)
    course.recommended.extend(others)
    db.session.commit()
    first = ChapterFactory(course=course, number=1, name="基础语法")
    second = ChapterFactory(course=course, number=2, name="面向对象")
    SectionFactory(
        chapter=first, name="环境搭建", free_trial=True, link="https://video.example.com/free"
    )
    SectionFactory(chapter=first, name="变量", link="https://video.example.com/paid-1")
    SectionFactory(chapter=second, name="类与对象", link="https://video.example.com/paid-2")
    FAQFactory(product=course, question="有证书吗？", answer="有。")
    return course


def test_the_course_page_counts_its_lessons_once_from_the_sections(client, full_course):
    page = html(client.get(f"/courses/{full_course.id}"))
    assert "共 3 节课" in page  # the three sections listed, not the detail's 48 hours
    text = re.sub(r"<[^>]*>", " ", page)  # what is read, not ids such as policy-848
    assert re.search(r"(?<![\d.,:])48(?![\d.,:])", text) is None
    assert "3 lessons" in html(client.get(f"/courses/{full_course.id}?lang=en"))


def test_the_course_page_has_one_period_chooser_with_the_cheapest_chosen(client):
    course = CourseFactory(policies=[(0, "599.00"), (90, "79.00"), (30, "99.00")])
    page = html(client.get(f"/courses/{course.id}"))
    radios = re.findall(r'<input class="form-check-input[^>]*name="price_policy_id"[^>]*>', page)
    assert len(radios) == 3  # one chooser: no second list of the same prices
    assert page.count("¥79.00") == 1
    checked = [radio for radio in radios if " checked" in radio]
    by_period = {p.valid_period: p.id for p in course.price_policies}
    assert checked == [r for r in radios if f'value="{by_period[90]}"' in r]  # the "from" price
    periods = re.findall(r'<span class="policy-period[^"]*">([^<]*)</span>', page)
    assert periods == ["1个月", "3个月", "永久有效"]


def test_the_course_page_rows_fit_a_phone(client, full_course):
    # Bootstrap's g-5 gutter (3rem) is wider than the container's padding on a phone: the row
    # stuck out 12 px on each side and the page scrolled sideways at 390 px.
    page = html(client.get(f"/courses/{full_course.id}"))
    assert 'class="row g-5' not in page


def test_the_course_page_shows_its_detail(client, full_course):
    page = html(client.get(f"/courses/{full_course.id}"))
    for shown in ("Python 全栈", "从入门到就业", "Alex 老师", "首席讲师", "有证书吗？", "有。"):
        assert shown in page
    assert "基础语法" in page
    assert "面向对象" in page
    assert "环境搭建" in page
    assert "类与对象" in page
    assert "Go 入门" in page
    assert "Hidden One" not in page
    assert "level-intermediate" in page


def test_what_you_learn_is_html_and_why_study_is_text(client, full_course):
    page = html(client.get(f"/courses/{full_course.id}"))
    assert "<ul><li>装饰器</li><li>ORM</li></ul>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_only_free_sections_have_the_badge_and_the_link(client, full_course):
    page = html(client.get(f"/courses/{full_course.id}"))
    assert page.count('class="badge free-trial-badge"') == 1
    free_section = full_course.chapters[0].sections[0]
    assert f"/learn/{full_course.id}/{free_section.id}" in page  # watched on the lesson page
    assert "paid-1" not in page
    assert "paid-2" not in page
    free = re.search(r'<li class="section[^"]*section-free">(.*?)</li>', page, re.S)
    assert free is not None
    assert "环境搭建" in free.group(1)
    assert "free-trial-badge" in free.group(1)


def test_the_policies_show_chinese_periods_and_prices(client, full_course):
    page = html(client.get(f"/courses/{full_course.id}"))
    periods = re.findall(r'<span class="policy-period[^"]*">([^<]*)</span>', page)
    assert periods == ["1个月", "1年", "永久有效"]  # forever last
    for price in ("¥99.00", "¥699.00", "¥1,299.00"):
        assert price in page


def test_a_retired_policy_is_not_shown(client):
    course = CourseFactory(policies=[(30, "99.00"), (90, "249.00")])
    course.price_policies[1].active = False
    db.session.commit()
    page = html(client.get(f"/courses/{course.id}"))
    assert "¥99.00" in page
    assert "¥249.00" not in page


def test_a_course_without_detail_or_chapters_still_renders(client):
    course = CourseFactory(name="Bare", policies=[])
    page = html(client.get(f"/courses/{course.id}"))
    assert "Bare" in page
    assert "policy-list" not in page


def test_an_upcoming_course_is_announced_not_sold(client):
    course = CourseFactory(name="Rust 入门", status="upcoming", policies=[(30, "99.00")])
    SectionFactory(chapter=ChapterFactory(course=course), name="所有权", free_trial=True)
    page = html(client.get(f"/courses/{course.id}"))
    assert "所有权" in page  # the chapters planned
    assert "try-link" not in page  # nothing to watch yet: free trials are of online courses
    assert "Rust 入门" in page
    assert "即将上线" in page
    assert "buy-form" not in page
    assert "¥99.00" not in page
    assert "Coming soon" in html(client.get(f"/courses/{course.id}?lang=en"))
    # The API and the list keep to what is on sale.
    assert client.get(f"/api/v1/courses/{course.id}").status_code == 404
    assert "Rust 入门" not in html(client.get("/courses"))


def test_an_upcoming_course_cannot_be_put_in_the_cart(client):
    course = CourseFactory(status="upcoming", policies=[(30, "99.00")])
    client.post(
        "/cart/add",
        data={
            "item_type": "course",
            "item_id": str(course.id),
            "price_policy_id": str(course.price_policies[0].id),
        },
    )
    assert "cart-line" not in html(client.get("/cart"))


@pytest.mark.parametrize("status", ["offline"])
def test_a_hidden_course_is_a_404_page(client, status):
    course = CourseFactory(status=status)
    page = html(client.get(f"/courses/{course.id}"), status=404)
    assert "error-page" in page
    assert course.name not in page


@pytest.mark.parametrize("path", ["/courses/999999", "/courses/abc", "/courses/-1", "/nowhere"])
def test_an_unknown_course_is_a_404_page(client, path):
    assert "error-page" in html(client.get(path), status=404)


def test_a_degree_course_is_not_a_course_page(client):
    degree = DegreeCourseFactory()
    html(client.get(f"/courses/{degree.id}"), status=404)


# --- a degree course ----------------------------------------------------------------------------


def test_the_degree_page_shows_its_courses_mentors_scholarship_and_faqs(client):
    degree = DegreeCourseFactory(
        name="Python 开发学位",
        scholarship_rules="每按时完成一门课程返还一部分学费。",
        policies=[(180, "2999.00")],
    )
    courses = [CourseFactory(name="Web 框架"), CourseFactory(name="Secret", status="offline")]
    mentor = TeacherFactory(name="导师小王")
    degree.courses.extend(courses)
    degree.mentors.append(mentor)
    db.session.commit()
    FAQFactory(product=degree, question="多久毕业？", answer="六个月。")
    page = html(client.get(f"/degree-courses/{degree.id}"))
    for shown in (
        "Python 开发学位",
        "Web 框架",
        "导师小王",
        "每按时完成",
        "多久毕业？",
        "¥1,000.00",
    ):
        assert shown in page
    assert "Secret" not in page
    assert "6个月" in page
    assert "¥2,999.00" in page


@pytest.mark.parametrize("status", ["offline", "upcoming"])
def test_a_hidden_degree_course_is_a_404_page(client, status):
    degree = DegreeCourseFactory(status=status)
    html(client.get(f"/degree-courses/{degree.id}"), status=404)


def test_an_unknown_degree_course_is_a_404_page(client):
    course = CourseFactory()
    html(client.get(f"/degree-courses/{course.id}"), status=404)
    html(client.get("/degree-courses/abc"), status=404)


# --- the homepage -------------------------------------------------------------------------------


def test_the_homepage_shows_the_catalog(client):
    CategoryFactory(name="人工智能")
    CourseFactory(name="机器学习")
    CourseFactory(name="Not yet", status="upcoming")
    DegreeCourseFactory(name="AI 学位")
    page = html(client.get("/"))
    assert "人工智能" in page
    assert "机器学习" in page
    assert "AI 学位" in page
    assert "Not yet" not in page


def test_the_homepage_renders_with_an_empty_catalog(client):
    assert "路飞学城" in html(client.get("/"))


def test_the_homepage_holds_nothing_per_request(client):
    CourseFactory()
    page = html(client.get("/"))
    assert "csrf" not in page.lower()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts, "the Bootstrap bundle is loaded"
    assert all(" src=" in tag for tag in scripts), scripts
    assert re.search(r"<script\b[^>]*>\s*(?!</script>)\S", page) is None  # no inline code
    assert re.search(r"<[^>]+\son[a-z]+\s*=", page) is None  # no inline event handler
    assert 'href="/lang/en?next=/"' in page


def test_pages_load_assets_from_this_site_only(client):
    page = html(client.get("/courses"))
    assets = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', page)
    assert "/static/vendor/bootstrap/bootstrap.min.css" in assets
    assert "/static/vendor/bootstrap/bootstrap.bundle.min.js" in assets
    assert all(url.startswith("/static/") for url in assets), assets


def test_the_vendored_assets_are_served(client):
    for name in ("bootstrap.min.css", "bootstrap.bundle.min.js"):
        response = client.get(f"/static/vendor/bootstrap/{name}")
        assert response.status_code == 200
        response.close()
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    response.close()
