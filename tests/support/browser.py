"""Debian's headless Chromium driven by Playwright, as the browser tests start it.

Playwright never downloads a browser here: it drives /usr/bin/chromium (`make chromium`
installs Debian's package when it is missing). A page collects the errors it logs (console
errors, uncaught exceptions) in ``page.problems`` for the test to assert on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}


def needs_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail("no /usr/bin/chromium: `make chromium` installs Debian's package")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright Browser), closed on exit."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    needs_chromium()
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def watch_problems(page: Any) -> list[str]:
    """Collect what ``page`` logs as an error (console errors, uncaught exceptions) into the
    returned list, also set as ``page.problems``."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    return problems
