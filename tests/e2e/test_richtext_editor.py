"""The rich-text editor in a real browser, under the students' strict Content-Security-Policy:
a RichTextField becomes a Quill editor, typing fills the textarea, an image uploads and is
inserted, a refused upload shows the server's message, and nothing breaks the policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import render_template_string, request
from flask_wtf import FlaskForm
from PIL import Image

from app.forms.richtext import RichTextField
from tests.e2e.browser import watch
from tests.factories import UserFactory

# Threads or a live server read through connections of their own: real commits.
# fresh_app: the test adds a page of its own to the app (conftest.py lends apps otherwise).
pytestmark = [pytest.mark.real_commits, pytest.mark.e2e, pytest.mark.fresh_app]

PAGE = """<!doctype html>
<html><head>
<meta name="csrf-token" content="{{ csrf_token() }}">
<link rel="stylesheet" href="{{ url_for('static', filename='vendor/quill/quill.snow.css') }}">
</head><body>
<form method="post" id="f">
  {{ form.csrf_token }}
  <label for="what_to_study">What you will learn</label>
  {{ form.what_to_study() }}
  <button type="submit">Save</button>
</form>
<pre id="saved">{{ saved }}</pre>
<script src="{{ url_for('static', filename='vendor/quill/quill.js') }}"></script>
<script src="{{ url_for('static', filename='js/admin-richtext.js') }}"></script>
</body></html>"""


class DetailForm(FlaskForm):
    what_to_study = RichTextField("What you will learn")


@pytest.fixture
def live_settings():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def editor_page(app):
    def edit():
        form = DetailForm(data={"what_to_study": "<h2>Start</h2><p>existing text</p>"})
        saved = form.what_to_study.data if request.method == "POST" and form.validate() else ""
        return render_template_string(PAGE, form=form, saved=saved)

    app.add_url_rule("/test-editor", "test_editor", edit, methods=["GET", "POST"])
    return "/test-editor"


def sign_in_staff(page, live_server, app):
    user = UserFactory(is_staff=True, username="editor")
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "editor")
    page.fill("input[name=password]", UserFactory.password)
    page.click("form button[type=submit]")
    page.wait_for_load_state("load")
    return user


def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "diagram.png"
    Image.new("RGB", (30, 20), (0, 128, 255)).save(path)
    return path


def test_the_editor_edits_uploads_and_submits_under_the_strict_policy(
    page, live_server, app, editor_page, tmp_path
):
    problems = watch(page, responses=False)  # the refused upload's 400 is expected
    sign_in_staff(page, live_server, app)
    response = page.goto(f"{live_server}{editor_page}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".ql-editor")
    assert page.is_hidden("textarea[data-rich-text]")
    assert page.inner_html(".ql-editor").startswith("<h2>Start</h2>")

    page.click(".ql-editor p")
    page.keyboard.press("End")
    page.keyboard.type(" and more words")
    page.click(".ql-bold")
    page.keyboard.type(" bold")
    value = page.input_value("textarea[data-rich-text]")
    assert "existing text and more words" in value
    assert "<strong> bold</strong>" in value or "<strong>bold</strong>" in value
    assert "&nbsp;" not in value

    with page.expect_file_chooser() as chooser:
        page.click(".ql-image")
    chooser.value.set_files(str(png_file(tmp_path)))
    page.wait_for_selector(".ql-editor img[src^='/uploads/']")
    src = page.get_attribute(".ql-editor img", "src")
    assert src in page.input_value("textarea[data-rich-text]")
    assert page.request.get(f"{live_server}{src}").headers["content-type"] == "image/png"

    # A refused upload says why, in the page, and inserts nothing.
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image at all")
    with page.expect_file_chooser() as chooser:
        page.click(".ql-image")
    chooser.value.set_files(str(text_file))
    page.wait_for_selector(".rich-text-editor .alert:not([hidden])")
    assert "JPEG" in page.inner_text(".rich-text-editor .alert")
    assert page.locator(".ql-editor img").count() == 1

    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    saved = page.inner_text("#saved")
    assert "existing text and more words" in saved
    assert f'<img src="{src}">' in saved
    print("SAVED", saved)
    assert problems == []
