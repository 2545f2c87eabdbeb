"""A visitor registers, logs out and logs in again in a real browser, with the bot check on."""

from __future__ import annotations

import pytest

from tests.e2e.browser import watch

# Threads or a live server read through connections of their own: real commits.
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e]

PASSWORD = "s3cret-pass"


@pytest.fixture
def live_settings() -> dict:
    # The real widget and the real check, with a proof of work small enough to be quick.
    return {"CAPTCHA_ENABLED": True, "CAPTCHA_COST": 10, "CAPTCHA_MAX_NUMBER": 50}


def solve_bot_check(page) -> None:
    from playwright.sync_api import expect

    widget = page.locator("altcha-widget")
    widget.get_by_text("我不是机器人").click()  # the label, as a person would
    expect(widget.locator('[data-state="verified"]')).to_have_count(1)
    payload = widget.locator('input[type="hidden"][name="altcha"]')
    expect(payload).to_have_count(1)
    assert payload.input_value()


def session_cookie(page) -> dict:
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "session"]
    return cookie


def test_register_log_out_and_log_in_with_the_bot_check(page, live_server):
    from playwright.sync_api import expect

    problems = watch(page)

    # Register: the widget fetches its challenge, solves it in a worker, and the form goes through.
    response = page.goto(f"{live_server}/register")
    assert "script-src 'self'" in response.headers["content-security-policy"]  # no inline
    page.get_by_label("用户名").fill("xiaoming")
    page.get_by_label("邮箱（选填）").fill("xiaoming@example.com")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认密码").fill(PASSWORD)
    solve_bot_check(page)
    page.get_by_role("button", name="注册").click()

    expect(page).to_have_url(f"{live_server}/courses")
    expect(page.locator(".account-link")).to_have_text("xiaoming")

    # Log out: the session ends on the server, so the old cookie is worth nothing.
    old = session_cookie(page)
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{live_server}/")
    page.context.add_cookies([old])
    page.goto(f"{live_server}/account")
    expect(page).to_have_url(f"{live_server}/login?next=%2Faccount")
    expect(page.get_by_text("请先登录。")).to_be_visible()

    # Log in again, with a new bot check, and land where the login was asked for.
    page.get_by_label("用户名").fill("XiaoMing")
    page.get_by_label("密码").fill(PASSWORD)
    solve_bot_check(page)
    page.get_by_role("button", name="登录").click()

    expect(page).to_have_url(f"{live_server}/account")
    expect(page.locator(".account-summary")).to_contain_text("xiaoming@example.com")
    assert session_cookie(page)["value"] != old["value"]
    assert not problems, problems
