"""What a browser test watches: `problems = watch(page)` collects what the page logs as an error
(a Content-Security-Policy violation among them), its uncaught exceptions and, unless
`responses=False`, every answer of 400 or more (but the favicon's)."""

from __future__ import annotations


def watch(page, *, responses: bool = True) -> list[str]:
    problems: list[str] = []

    def console(message) -> None:
        # A failed load is reported by the response listener, which knows the address.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def answered(response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"{response.status} {response.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    if responses:
        page.on("response", answered)
    return problems


class InFlight:
    """The page's requests not yet answered: `settle()` returns once every request the page
    made has its answer (or failed) and the fonts are in, which is what Playwright's
    "networkidle" waits for, without its fixed half second of silence after each page."""

    def __init__(self, page) -> None:
        self.page = page
        self.open: set = set()
        page.on("request", lambda request: self.open.add(request))
        page.on("requestfinished", lambda request: self.open.discard(request))
        page.on("requestfailed", lambda request: self.open.discard(request))

    def settle(self, seconds: float = 10) -> None:
        self.page.evaluate("document.fonts.ready.then(() => true)")
        for _ in range(int(seconds * 50)):
            if not self.open:
                return
            self.page.wait_for_timeout(20)  # lets Playwright deliver the page's events
        raise AssertionError(
            f"still waiting after {seconds} s for {sorted(r.url for r in self.open)}"
        )


# The widths every page is checked at: a phone's and a laptop's.
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}


def overflow(page) -> int:
    """By how many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def at_each_width(page, shot: str, in_flight: InFlight | None = None) -> None:
    """The page as loaded at the phone's width, then widened to the laptop's (the layout is
    media queries: one load serves both): no sideways scrolling at either; a screenshot of
    each, named `shot` with its {width}. Back at the phone's width afterwards."""
    if in_flight is not None:
        in_flight.settle()
    for size in (PHONE, LAPTOP):
        page.set_viewport_size(size)
        screenshot(page, shot.format(width=size["width"]))
        assert overflow(page) <= 0, (
            f"{page.url} at {size['width']} px scrolls sideways by {overflow(page)} px"
        )
    page.set_viewport_size(PHONE)


SCREENS_DIR = "SCREENS_DIR"


def screenshot(page, name: str) -> str:
    """Keep a full-page screenshot as a test artefact: `$SCREENS_DIR/<name>.png`
    (default `artifacts/screens/`, ignored by git), for people to look at after a run.
    `SCREENSHOTS=0` takes none (CI: encoding full-page PNGs is a good part of the browser
    tests' CPU, and nobody looks at them there); returns "" then."""
    import os
    from pathlib import Path

    if os.environ.get("SCREENSHOTS") == "0":
        return ""

    folder = Path(
        os.environ.get(SCREENS_DIR) or Path(__file__).parents[2] / "artifacts" / "screens"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path)
