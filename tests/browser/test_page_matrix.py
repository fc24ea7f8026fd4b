"""Every page at a phone's size and a desktop's, in Chinese and in English: nothing wider
than the screen, `<html lang>` the reader's, and axe-core finds no violation. The result
page is reached the way a reader without a mouse reaches it: the upload by keyboard alone.

With SCREENSHOTS=<folder> in the environment the pages that docs/ and the README show are
saved there (scripts/screenshots).
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.axe import violations
from tests.browser.conftest import TIMEOUT_MS, tab_to

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
# Django's language, the browser's locale (its Accept-Language), and `<html lang>`.
LANGUAGES = {"zh": ("zh-CN", "zh-Hans"), "en": ("en-US", "en")}
# The screenshots docs/ and the README show: (page, language, size).
SHOWN = {
    ("home", "zh", "phone"),
    ("record", "zh", "phone"),
    ("result", "zh", "phone"),
    ("certificate", "en", "desktop"),
    ("batch", "en", "desktop"),
    ("judges", "zh", "desktop"),
}
RESULT_TIMEOUT_MS = 60_000
JUDGE = ("judge", "judge-password-for-tests")


def _upload_by_keyboard(page: Page, portal) -> tuple[str, str]:
    """From the home page, choose the served judgment and send it with the keyboard alone;
    the result page's address once it is verified, and its certificate's number."""
    # A listener from the start: Playwright intercepts the browser's file chooser only once
    # one is set, which would otherwise race with the key that opens it.
    page.on("filechooser", lambda _: None)
    page.goto(portal.url + "/")
    tab_to(page, "#check-file input[type=file]")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(portal.stamped)
    tab_to(page, "#check-file button[type=submit][value=upload]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/verifications/*")
    expect(page.locator("[data-outcome=verified]")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    certificate = page.locator("[data-certificate]")
    expect(certificate).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    return page.url, certificate.get_attribute("data-certificate")


def _judge() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(JUDGE[0], password=JUDGE[1])
    user.user_permissions.add(Permission.objects.get(codename="view_full_record"))


def _batch(portal) -> str:
    """A batch of two files checked: the served judgment and a file no court recorded."""
    from anchoring.digest import digests
    from verification import batch
    from verification.models import Verification

    files = [("judgment.pdf", portal.stamped.read_bytes()), ("unknown.txt", b"not recorded")]
    given = []
    for position, (name, content) in enumerate(files):
        sha256, sm3 = digests(content)
        source = Verification.Source.BROWSER
        given.append(batch.Given(position, name, len(content), sha256.hex(), sm3.hex(), source))
    return batch.start(given)


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/accounts/login/?next=/judges")
    page.locator("input[name=username]").fill(JUDGE[0])
    page.locator("input[name=password]").fill(JUDGE[1])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/judges")


# The page's width, the screen's, and the innermost elements that reach past the screen.
WIDEST = """() => {
    const screen = document.documentElement.clientWidth;
    const right = (e) => e.getBoundingClientRect().left + e.scrollWidth;
    const past = [...document.querySelectorAll("body *")].filter(
        (e) => right(e) > screen + 1 && ![...e.children].some((c) => right(c) > screen + 1));
    const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
        + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "")
        + " " + JSON.stringify(e.textContent.trim().slice(0, 30));
    return [document.documentElement.scrollWidth, screen, past.slice(0, 4).map(name)];
}"""


def _problems(page: Page, name: str, html_lang: str) -> list[str]:
    """What is wrong with the page as shown: overflow, language, axe-core violations."""
    found = []
    width, screen, culprits = page.evaluate(WIDEST)
    if width > screen:
        found.append(f"{name}: {width} px wide on a {screen} px screen, past it: {culprits}")
    lang = page.evaluate("() => document.documentElement.lang")
    if lang != html_lang:
        found.append(f"{name}: <html lang={lang!r}>, not {html_lang!r}")
    found += [f"{name}: {v}" for v in violations(page)]
    return found


def test_every_page_fits_both_screens_in_both_languages_without_an_axe_violation(browser, portal):
    from documents import codes

    _judge()
    shots = os.environ.get("SCREENSHOTS")
    first = browser.new_context(locale="zh-CN", viewport=SIZES["phone"])
    first.set_default_timeout(TIMEOUT_MS)
    try:
        result, number = _upload_by_keyboard(first.new_page(), portal)
    finally:
        first.close()
    pages = {
        "home": "/",
        "record": f"/v/{portal.code}",
        "result": result.removeprefix(portal.url),
        "certificate": f"/c/{number}",
        "record-missing": f"/v/{codes.display(codes.new_code())}",
        "batch": "/batch",
        "batch-result": f"/batch/{_batch(portal)}",
        "courts": "/courts",
        "alliance": "/alliance",
        "sign-in": "/accounts/login/",
        "not-found": "/no-such-page",
        "api-docs": "/api/docs/",
        "witness": "/witness/",
        "judges": "/judges",
    }
    problems: list[str] = []
    for language, (locale, html_lang) in LANGUAGES.items():
        for size, viewport in SIZES.items():
            context = browser.new_context(locale=locale, viewport=viewport)
            context.set_default_timeout(TIMEOUT_MS)
            try:
                page = context.new_page()
                for name, path in pages.items():
                    if name == "judges":
                        _sign_in(page, portal.url)
                    else:
                        page.goto(portal.url + path)
                    # Redoc draws the API documentation after the page has loaded.
                    page.wait_for_load_state("networkidle" if name == "api-docs" else "load")
                    where = f"{name} ({language}, {size})"
                    problems += _problems(page, where, html_lang)
                    if shots and (name, language, size) in SHOWN:
                        page.screenshot(path=str(Path(shots) / f"{name}-{language}-{size}.png"))
            finally:
                context.close()
    assert not problems, "\n".join(problems)
