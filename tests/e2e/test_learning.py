"""A student buys a course through the sandbox, opens a lesson, the video really plays in the
vendored player under the strict CSP, progress is saved, and after a reload the lesson resumes
where it stopped. Screenshots of the lesson at 1366 and 390 px, in Chinese and English."""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import SectionProgress
from app.services import media
from tests.e2e.browser import PHONE, at_each_width, overflow, screenshot, watch
from tests.factories import ChapterFactory, CourseFactory, SectionFactory, UserFactory

pytestmark = pytest.mark.e2e

PASSWORD = "s3cret-pass"


@pytest.fixture
def live_settings() -> dict:
    return {"CAPTCHA_ENABLED": False, "PAYMENT_SANDBOX": True, "WTF_CSRF_ENABLED": True}


@pytest.fixture(scope="session")
def lesson_video(tmp_path_factory):
    from app.services.demo_media import encode_lesson

    path = tmp_path_factory.mktemp("e2e-lesson") / "lesson.mp4"
    encode_lesson(path, "第一课 · 安装", "Lesson 1", 8, (24, 64, 120))
    return path


def wait_until(page, expression: str, seconds: float = 15) -> None:
    """Poll `expression` in the page (wait_for_function compiles it with eval, which the
    page's Content-Security-Policy refuses, as it should)."""
    for _ in range(int(seconds * 10)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {seconds} s: {expression}")


def test_buy_then_watch_a_lesson_that_resumes_after_a_reload(app, page, live_server, lesson_video):
    from playwright.sync_api import expect

    from app.services.accounts import hash_password

    app.config["PUBLIC_BASE_URL"] = live_server
    student = UserFactory(username="xiaoming", password_hash=hash_password(PASSWORD))
    course = CourseFactory(name="Python 入门", policies=[(30, "99.00")])
    chapter = ChapterFactory(course=course, number=1, name="准备")
    name = media.new_media_name("mp4")
    shutil.copyfile(lesson_video, media.media_folder() / name)
    first = SectionFactory(
        chapter=chapter, position=1, name="安装 Python", media_file=name, duration=8
    )
    SectionFactory(
        chapter=chapter,
        position=2,
        name="讲义：环境变量",
        section_type="document",
        duration=None,
        content="<p>PATH 决定了命令从哪里找。</p>",
    )
    first_id = first.id
    problems = watch(page)

    page.goto(f"{live_server}/login")
    page.locator("#username").fill(student.username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.login-form button[type=submit]").click()
    expect(page.locator(".account-link")).to_have_text("xiaoming")

    page.goto(f"{live_server}/courses/{course.id}")
    page.locator("form.buy-form button:not([name])").click()  # Add to cart
    page.locator("form[action='/settlement'] button").click()  # Settle
    page.locator("#method-sandbox").check()
    page.locator(".settlement-form button:not([formaction])").click()  # Pay
    expect(page).to_have_url(re.compile(r"/payments/sandbox/gateway\?"))
    page.locator("form[action$='/gateway/pay'] button").click()  # the gateway's Pay
    expect(page.locator(".alert-success")).to_be_visible()

    page.goto(f"{live_server}/my/courses")
    page.locator(".my-courses a.continue-link").click()  # 开始学习
    expect(page.locator(".section-title")).to_have_text("安装 Python")
    expect(page.locator(".plyr")).to_be_visible()  # the vendored player took the <video>
    page.locator("button.plyr__control--overlaid").click()  # play, as a person would
    wait_until(page, "document.querySelector('video.lesson-video').currentTime > 2.5")
    with page.expect_response(lambda r: r.url.endswith(f"/learn/sections/{first_id}/progress")):
        page.evaluate("document.querySelector('video.lesson-video').pause()")
    played = page.evaluate("document.querySelector('video.lesson-video').currentTime")
    assert played > 2.5

    db.session.expire_all()
    saved = db.session.scalar(
        select(SectionProgress.position_s).where(SectionProgress.section_id == first.id)
    )
    assert saved >= 2

    page.reload()
    wait_until(page, f"document.querySelector('video.lesson-video').currentTime >= {saved - 0.5}")
    expect(page.locator(".lesson-status")).to_contain_text("00:0")
    # The lesson with its player in each language, loaded at a phone's width and widened to a
    # laptop's (the layout is media queries); the course's page now shows it is the student's.
    # (My courses and the course page are checked at both widths in both languages by the
    # student pages sweep, tests/e2e/test_phone_pages.py.)
    for lang in ("zh", "en"):
        page.set_viewport_size(PHONE)
        page.goto(f"{live_server}/learn/{course.id}/{first.id}?lang={lang}")
        expect(page.locator(".plyr")).to_be_visible()
        at_each_width(page, f"learning-lesson-{{width}}-{lang}")
    page.goto(f"{live_server}/courses/{course.id}?lang=en")
    expect(page.locator(".owner-box")).to_be_visible()
    screenshot(page, "learning-course-owner-390-en")
    assert problems == []


def test_a_visitor_watches_a_free_trial_and_meets_the_door_on_a_paid_section(
    page, live_server, lesson_video
):
    from playwright.sync_api import expect

    course = CourseFactory(name="Go 入门")
    chapter = ChapterFactory(course=course, number=1, name="开始")
    name = media.new_media_name("mp4")
    shutil.copyfile(lesson_video, media.media_folder() / name)
    free = SectionFactory(
        chapter=chapter, position=1, name="试看", free_trial=True, media_file=name, duration=8
    )
    paid = SectionFactory(chapter=chapter, position=2, name="付费", media_file=name, duration=8)
    problems = watch(page, responses=False)
    page.goto(f"{live_server}/learn/{course.id}/{free.id}")
    page.locator("button.plyr__control--overlaid").click()
    wait_until(page, "document.querySelector('video.lesson-video').currentTime > 1")
    for width, lang in ((1366, "zh"), (390, "en")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server}/learn/{course.id}/{paid.id}?lang={lang}")
        expect(page.locator(".refusal-reason")).to_be_visible()
        assert overflow(page) <= 0
        screenshot(page, f"learning-refused-{width}-{lang}")
    assert problems == []


def test_without_javascript_the_video_plays_by_itself(browser, live_server, lesson_video):
    course = CourseFactory(name="Rust 入门")
    chapter = ChapterFactory(course=course, number=1, name="开始")
    name = media.new_media_name("mp4")
    shutil.copyfile(lesson_video, media.media_folder() / name)
    free = SectionFactory(
        chapter=chapter, position=1, name="试看", free_trial=True, media_file=name, duration=8
    )
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/learn/{course.id}/{free.id}")
        assert page.locator("video.lesson-video[controls]").count() == 1
        assert page.locator(".plyr").count() == 0
        source = page.locator("video.lesson-video source").get_attribute("src")
        assert source.startswith("/media/")
        # The browser's own player fetches it with this browser's cookie.
        answer = page.request.get(f"{live_server}{source}", headers={"Range": "bytes=0-99"})
        assert answer.status == 206
    finally:
        context.close()
