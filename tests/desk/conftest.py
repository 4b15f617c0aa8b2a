"""Fixtures of the desk's browser tests: one headless Debian Chromium for the run (never `playwright install`), a
fresh browser context (no cookies) per test, and the desk served live on a real SQLite file under a fake clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bot.clock import FakeClock
from tests.conftest import T0, without_consent
from tests.desk.live import CHROMIUM, CHROMIUM_ARGS, LiveDesk


@pytest.fixture(scope="package")  # not "session": while Playwright's sync API runs, its event loop is the main
def browser() -> Iterator[Browser]:  # thread's running loop, and every later async test would fail to start
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI needs Debian's chromium at {CHROMIUM} for the desk's browser tests (.ci/run installs "
                        "it)", pytrace=False)
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="da-DK",
                                  timezone_id="Europe/Copenhagen")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveDesk]:
    with LiveDesk(str(tmp_path / "bot.db"), FakeClock(T0), deployment_path=without_consent(tmp_path)) as desk:
        yield desk
