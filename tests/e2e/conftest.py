"""Browser fixtures: the app served on a free local port (`live_server`) and a Chromium `page`.

Chromium comes from Debian (`apt-get install chromium`); Playwright's own download is not used.
Without /usr/bin/chromium the browser tests are skipped, or fail when REQUIRE_SERVICES=1.

A test module chooses the served app's settings by overriding the `live_settings` fixture:
`@pytest.fixture def live_settings(): return {"CAPTCHA_ENABLED": True}`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_settings() -> dict:
    """Settings of the app the live server serves, over the testing ones; none by default."""
    return {}


@pytest.fixture
def app(app_with, live_settings):
    """As the suite's `app` (its context pushed, a clean database and Redis), made with the
    module's `live_settings`."""
    with app_with(**live_settings) as app:
        yield app


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app served by a real HTTP server in a thread; yields its base URL.

    Rows a test makes must be committed (the factories do) before the browser asks for them:
    the server reads through connections of its own.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page for each test; 10 s timeouts."""
    context = browser.new_context(locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
