"""`flask --app wsgi seed-demo`: the demo catalog it promises, made once however often it runs."""

from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    FAQ,
    Coupon,
    CouponKind,
    Course,
    CourseSection,
    DegreeCourse,
    PricePolicy,
    ProductStatus,
    SectionType,
    Teacher,
    User,
)
from app.models.types import utcnow
from app.services.accounts import find_user, verify_password


def seed(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return result


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    db.session.expire_all()
    return {
        table.name: sorted((tuple(row) for row in db.session.execute(select(table))), key=repr)
        for table in db.metadata.sorted_tables
    }


def online_courses() -> list[Course]:
    return list(db.session.scalars(select(Course).where(Course.status == ProductStatus.ONLINE)))


def test_seed_makes_a_catalog_of_online_courses_with_lessons(app, runner):
    seed(runner)
    courses = online_courses()
    assert len(courses) >= 20
    for course in courses:
        assert course.category is not None
        assert course.detail is not None
        assert course.detail.hours > 0
        assert "<li>" in course.detail.what_to_study
        assert course.teachers
        assert course.recommended
        assert 3 <= len(course.chapters) <= 5
        for chapter in course.chapters:
            assert 2 <= len(chapter.sections) <= 5
        first = course.chapters[0].sections[0]
        assert first.free_trial
        assert first.media_file or first.content
    assert {c.level for c in courses} == {"beginner", "intermediate", "advanced"}
    assert {c.course_type for c in courses} == {"paid", "vip"}
    assert len({c.created_at for c in courses}) == len(courses)
    assert len({c.sort_order for c in courses}) == len(courses)


def test_seed_makes_sections_of_every_kind(app, runner):
    seed(runner)
    sections = db.session.scalars(select(CourseSection)).all()
    assert {s.section_type for s in sections} == set(SectionType)
    for section in sections:
        if section.section_type == SectionType.VIDEO:
            assert (section.duration or 0) > 0
            assert section.media_file
        else:
            assert "<p>" in section.content
        assert section.link == ""
    trials = [s for s in sections if s.free_trial]
    assert trials
    assert all(s.chapter.number == 1 and s.position <= 2 for s in trials)


def test_seed_makes_hidden_courses_too(app, runner):
    seed(runner)
    statuses = db.session.scalars(select(Course.status)).all()
    assert statuses.count(ProductStatus.OFFLINE) == 2
    assert statuses.count(ProductStatus.UPCOMING) == 1


def test_seed_makes_two_degree_courses(app, runner):
    seed(runner)
    degrees = db.session.scalars(select(DegreeCourse)).all()
    assert len(degrees) == 2
    for degree in degrees:
        assert degree.status == ProductStatus.ONLINE
        assert len(degree.courses) >= 3
        assert all(c.status == ProductStatus.ONLINE for c in degree.courses)
        assert degree.mentors
        assert degree.total_scholarship > 0
        assert degree.scholarship_rules
        assert degree.faqs
        assert {p.valid_period for p in degree.price_policies} >= {180, 365}


def test_seed_gives_every_product_several_policies_some_forever(app, runner):
    seed(runner)
    products = [*online_courses(), *db.session.scalars(select(DegreeCourse))]
    for product in products:
        assert len(product.current_policies) >= 2, product.name
        assert product.faqs, product.name
    forever = db.session.scalars(select(PricePolicy).where(PricePolicy.valid_period == 0)).all()
    assert len({p.product_id for p in forever}) >= 3
    assert db.session.scalar(select(func.count(FAQ.id))) >= len(products)


def test_seed_makes_claimable_coupons_of_every_kind_bound_and_site_wide(app, runner):
    seed(runner)
    now = utcnow()
    coupons = db.session.scalars(select(Coupon)).all()
    claimable = [
        c
        for c in coupons
        if c.active
        and c.claim_start <= now < c.claim_end
        and (c.quantity is None or c.claimed < c.quantity)
    ]
    assert claimable == coupons
    for kind in CouponKind:
        of_kind = [c for c in claimable if c.kind == kind]
        assert any(c.product_id is None for c in of_kind), kind
        assert any(c.product_id is not None for c in of_kind), kind
    assert any(c.quantity is None for c in coupons)
    assert any(c.quantity is not None for c in coupons)
    assert any(c.valid_days for c in coupons)
    assert any(c.valid_days is None and c.valid_until > now for c in coupons)
    threshold = next(c for c in coupons if c.kind == CouponKind.THRESHOLD)
    assert threshold.minimum_consume > threshold.value
    percent = next(c for c in coupons if c.kind == CouponKind.PERCENT)
    assert 1 <= percent.off_percent < 100


def test_seed_makes_a_student_and_a_staff_user(app, runner):
    seed(runner)
    demo, admin = find_user("demo"), find_user("admin")
    assert not demo.is_staff
    assert verify_password(demo, "demo12345")
    assert admin.is_staff
    assert verify_password(admin, "admin12345")
    assert db.session.scalar(select(func.count(User.id))) == 2


def test_seed_leaves_an_existing_user_alone(app, runner):
    runner.invoke(args=["create-admin", "demo"], env={"ADMIN_PASSWORD": "other-password"})
    seed(runner)
    demo = find_user("demo")
    assert demo.is_staff
    assert verify_password(demo, "other-password")


def test_seeding_twice_changes_nothing(app, runner):
    first = seed(runner)
    before = snapshot()
    second = seed(runner)
    assert snapshot() == before
    counted = [line for line in second.output.splitlines() if "created" in line]
    assert any("courses" in line for line in counted)
    assert all(" 0 created " in line for line in counted)
    assert all(
        " 0 already there" in line for line in first.output.splitlines() if "created" in line
    )


def test_every_picture_is_a_file_we_ship(app, runner):
    seed(runner)
    static = Path(app.static_folder)
    pictures = [
        *db.session.scalars(select(Course.course_img)),
        *db.session.scalars(select(DegreeCourse.course_img)),
        *db.session.scalars(select(Teacher.image)),
    ]
    for url in pictures:
        assert url.startswith("/static/img/")
        path = static / url.removeprefix("/static/")
        assert path.is_file(), url
        assert path.read_text().lstrip().startswith("<svg")
        assert "http://" not in path.read_text().replace("http://www.w3.org/2000/svg", "")


def test_seed_writes_real_lessons_a_few_files_shared_and_durations_from_them(app, runner):
    from app.services import media

    seed(runner)
    videos = db.session.scalars(
        select(CourseSection).where(CourseSection.section_type == SectionType.VIDEO)
    ).all()
    files = {s.media_file for s in videos}
    assert 2 <= len(files) <= 6 < len(videos)  # a few files, shared
    for name in files:
        path = media.media_path(name)
        assert path is not None
        probe = media.probe(path)
        assert probe.extension == "mp4"
        assert (probe.width, probe.height) == (640, 360)
        import av

        with av.open(str(path)) as container:
            codecs = {s.type: s.codec_context.name for s in container.streams}
        assert codecs == {"video": "h264", "audio": "aac"}
        assert {s.duration for s in videos if s.media_file == name} == {probe.duration_s}
    before = sorted(p.name for p in media.media_folder().iterdir())
    seed(runner)  # again: nothing new is written
    assert sorted(p.name for p in media.media_folder().iterdir()) == before
