"""Languages: Chinese by default, English on request, the language switch and period wording."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from app.i18n import LANG_COOKIE, period_text
from tests.factories import CourseFactory


def language_of(response) -> str:
    page = response.get_data(as_text=True)
    if '<html lang="zh-CN">' in page:
        assert "课程" in page
        return "zh"
    if '<html lang="en">' in page:
        assert ">Courses<" in page
        return "en"
    raise AssertionError("no language on the page")


def test_chinese_is_the_default(client):
    response = client.get("/courses")
    assert language_of(response) == "zh"
    assert "全部课程" in response.get_data(as_text=True)


def test_accept_language_english_gives_english(client):
    response = client.get("/courses", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert language_of(response) == "en"
    assert "All courses" in response.get_data(as_text=True)


def test_an_unsupported_browser_language_falls_back_to_chinese(client):
    assert language_of(client.get("/", headers={"Accept-Language": "fr-FR"})) == "zh"


def test_the_lang_query_argument_wins(client):
    client.set_cookie(LANG_COOKIE, "zh")
    assert language_of(client.get("/courses?lang=en")) == "en"
    assert language_of(client.get("/courses?lang=zh", headers={"Accept-Language": "en"})) == "zh"


def test_the_switch_sets_a_cookie_and_goes_back(client):
    response = client.get("/lang/en", query_string={"next": "/courses?level=beginner"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/courses?level=beginner"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{LANG_COOKIE}=en;")
    assert "Max-Age=31536000" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    # the cookie now chooses the language, over the browser's
    assert language_of(client.get("/courses", headers={"Accept-Language": "zh-CN"})) == "en"
    client.get("/lang/zh")
    assert language_of(client.get("/courses", headers={"Accept-Language": "en"})) == "zh"


def test_the_switch_without_next_goes_home(client):
    response = client.get("/lang/zh")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "raw_query",
    [
        "next=//evil.com",
        "next=//evil.com/courses",
        "next=/\\evil.com",
        "next=/%5Cevil.com",
        "next=%2F%2Fevil.com",
        "next=/%2F/evil.com",
        "next=https://evil.com",
        "next=https:/evil.com",
        "next=javascript:alert(1)",
        "next=/%0d%0aSet-Cookie:x",
        "next=/%09/evil.com",
        "next=%20/courses",
        "next=courses",
        "next=",
    ],
)
def test_the_switch_never_redirects_off_the_site(client, raw_query):
    response = client.get(f"/lang/en?{raw_query}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    (cookie,) = response.headers.getlist("Set-Cookie")  # and no header smuggled in
    assert cookie.startswith(f"{LANG_COOKIE}=en;")


def test_an_unknown_language_is_a_404(client):
    response = client.get("/lang/fr?next=/courses")
    assert response.status_code == 404
    assert not any(c.startswith(f"{LANG_COOKIE}=") for c in response.headers.getlist("Set-Cookie"))


def test_the_language_links_come_back_to_this_page(client):
    page = client.get("/courses?level=advanced").get_data(as_text=True)
    assert 'href="/lang/en?next=/courses?level%3Dadvanced"' in page


def test_pages_show_periods_in_the_visitors_language(client):
    course = CourseFactory(policies=[(30, "99.00"), (0, "199.00")])
    zh = client.get(f"/courses/{course.id}").get_data(as_text=True)
    en = client.get(f"/courses/{course.id}?lang=en").get_data(as_text=True)
    assert "1个月" in zh
    assert "永久有效" in zh
    assert "1 month" in en
    assert "Forever" in en


@pytest.mark.parametrize(
    ("days", "zh", "en"),
    [
        (0, "永久有效", "Forever"),
        (1, "1天", "1 day"),
        (10, "10天", "10 days"),
        (7, "1周", "1 week"),
        (14, "2周", "2 weeks"),
        (30, "1个月", "1 month"),
        (90, "3个月", "3 months"),
        (180, "6个月", "6 months"),
        (365, "1年", "1 year"),
        (730, "2年", "2 years"),
    ],
)
def test_period_text_in_both_languages(app, days, zh, en):
    with force_locale("zh"):
        assert period_text(days) == zh
    with force_locale("en"):
        assert period_text(days) == en


def test_the_chinese_catalog_is_compiled_and_complete():
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parents[2] / "app" / "translations"
    with (folder / "zh" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh)
    with (folder / "zh" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        mo = read_mo(fh)
    with (folder / "messages.pot").open("rb") as fh:
        pot = read_po(fh)

    def translated_in_full(message) -> bool:
        strings = [message.string] if isinstance(message.string, str) else message.string
        return all(strings) and "fuzzy" not in message.flags

    def ids(catalog, translated_only=False):
        return {
            tuple(m.id) if isinstance(m.id, list | tuple) else m.id
            for m in catalog
            if m.id and (not translated_only or translated_in_full(m))
        }

    translated = ids(po, translated_only=True)
    assert ids(pot) <= translated, sorted(map(str, ids(pot) - translated))
    assert ids(mo) == translated  # the .mo is compiled from this .po
