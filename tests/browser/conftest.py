"""Browser tests: Debian's Chromium, driven by Playwright, against the live server.

Each test gets a live server, a real Celery worker and the ledger sequencer as child
processes (tests.processes), and the demo data of demo.seeding.seed(): the stamped
judgment with its service timeline is the file people check.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000  # pages answer in milliseconds; this only bounds a hang on a busy machine


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the package; Playwright stops when the package's tests are done."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    expect.set_options(timeout=TIMEOUT_MS)

    # Playwright's sync API keeps an asyncio event loop running in the test's thread, so
    # Django takes the ORM calls of fixtures and tests for calls from async code and raises
    # SynchronousOnlyOperation. Nothing here is async (the ORM calls block between browser
    # commands), so the check is switched off, only while Playwright runs: the package
    # scope keeps the loop, and this setting, away from the rest of the suite.
    unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if unsafe is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = unsafe


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class Portal:
    url: str
    code: str  # the stamped judgment's code, as printed: 7K3M9Q-XD4RTW-2HVBP8
    title: str
    case_number: str
    stamped: Path  # the stamped PDF, as the court served it
    tmp: Path

    def file(self, name: str, content: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(content)
        return path


@pytest.fixture
def portal(browser, transactional_db, live_server, settings, tmp_path) -> Iterator[Portal]:
    """The live server with the demo court, and a worker and sequencer working for it."""
    from demo import seeding
    from documents import codes
    from tests.processes import worker_and_sequencer

    # Before the processes start: they are given this folder (and stamp files into it).
    settings.MEDIA_ROOT = tmp_path / "media"
    # The suite's production settings make the CSRF and messages cookies Secure; Chromium
    # keeps them over plain HTTP all the same, as the live server is http://localhost.
    # seed() makes an admin user; the production hasher would spend half a second on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with worker_and_sequencer(tmp_path):
        seeded = seeding.seed()
        judgment = next(r for r in seeded.records if r.stamped)
        yield Portal(
            url=live_server.url,
            code=codes.display(judgment.code),
            title=judgment.title,
            case_number=judgment.case_number,
            stamped=Path(judgment.file.path),
            tmp=tmp_path,
        )


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    pytest.fail(f"{selector} cannot be reached with Tab on {page.url}")


@contextlib.contextmanager
def _page(browser, request, tmp_path: Path, **options) -> Iterator[Page]:
    """A page in a fresh browser context; a screenshot goes to tmp_path if the test fails."""
    context = browser.new_context(locale="zh-CN", **options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = tmp_path / "failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failed page: {shot}")
    finally:
        context.close()


@pytest.fixture
def page(browser, request, tmp_path) -> Iterator[Page]:
    with _page(browser, request, tmp_path) as page:
        yield page


@pytest.fixture
def page_without_javascript(browser, request, tmp_path) -> Iterator[Page]:
    """A browser that runs no script at all: the pages must work on HTML alone."""
    with _page(browser, request, tmp_path, java_script_enabled=False) as page:
        yield page
