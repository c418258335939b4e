"""The console in a real headless Chromium (Debian's `chromium`), driven by Playwright for Python.

Playwright's own browser downloads are not needed: it drives the system's Chromium through `executable_path`
(`CHROMIUM=/path` picks another). Without Chromium these tests are skipped, and `make test` says so at the end
with the way to get them (`.ci/run` installs it). Every page fails its test on a console error, an uncaught
exception, a failed request or a 5xx answer, unless the test says it expects exactly that. Screenshots go to
`test-output/console/` (the path is printed at the end of the run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import ROOT

SCREENSHOTS = ROOT / "test-output" / "console"
# `make screenshots` writes the named screens into docs/img/console (docs/console.md shows them)
NAMED_SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or SCREENSHOTS)
# Chromium as root in a closed network: no sandbox (root), and nothing that calls home at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
HOW_TO_GET = "install Debian's chromium (`apt-get install chromium`, as .ci/run does) or set CHROMIUM=/path/to/chromium"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("LOYALTY_REQUIRE_BROWSER"):  # CI (.ci/run): a browser test never skips there
            pytest.fail(f"no Chromium on this machine, and LOYALTY_REQUIRE_BROWSER is set: {HOW_TO_GET}")
        pytest.skip(f"no Chromium on this machine: {HOW_TO_GET}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watch:
    """What went wrong in the page: console errors, uncaught exceptions, failed requests, 5xx answers."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.expected: list[str] = []  # substrings of problems a test provokes on purpose

    def note(self, text: str) -> None:
        self.problems.append(text)

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(e in p for e in self.expected)]


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    watch = Watch()
    opened.on("console", lambda m: watch.note(f"console {m.type}: {m.text}") if m.type == "error" else None)
    opened.on("pageerror", lambda e: watch.note(f"uncaught: {e}"))
    opened.on("requestfailed", lambda r: watch.note(f"request failed: {r.method} {r.url} {r.failure}"))
    opened.on("response", lambda r: watch.note(f"answer {r.status}: {r.url}") if r.status >= 400 else None)
    opened.watch = watch
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-last.png"), full_page=True)
    context.close()
    assert not watch.unexpected(), watch.problems


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """The page as `name`.png; `full_page=False`: the window alone (a modal dialog covers the window, not the page)."""
    NAMED_SHOTS.mkdir(parents=True, exist_ok=True)
    path = NAMED_SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
