"""The pages work under the Content-Security-Policy: Chromium goes through every main page
and flow and reports no violation, and every page it loads carries the policy.

A violation shows two ways: a `securitypolicyviolation` event in the page (listened to by
a script Playwright adds, which the policy does not govern) and Chromium's console error.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_pages import RESULT_TIMEOUT_MS, _outcome

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation(
    `${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber} ${e.sample}`
  );
});
"""


@dataclass
class Watch:
    """What the browser reported while the test went through the pages."""

    violations: list[str] = field(default_factory=list)
    pages: dict[str, str | None] = field(default_factory=dict)  # URL: its policy

    def clean(self, expected: str | None = None) -> None:
        """No violation (but `expected`, found in each one's report), and every page with
        the policy."""
        assert [v for v in self.violations if not (expected and expected in v)] == []
        assert self.pages, "no page was loaded"
        missing = [url for url, policy in self.pages.items() if not policy]
        assert missing == [], f"pages without a Content-Security-Policy: {missing}"
        for url, policy in self.pages.items():
            assert "script-src 'self'" in policy, (url, policy)
            assert "unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]


@pytest.fixture
def watched(page: Page) -> Iterator[tuple[Page, Watch]]:
    watch = Watch()
    page.expose_function("reportViolation", lambda text: watch.violations.append(text))
    page.add_init_script(LISTENER)
    page.on(
        "console",
        lambda m: watch.violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on(
        "response",
        lambda r: (
            watch.pages.__setitem__(r.url, r.headers.get("content-security-policy"))
            if r.request.resource_type == "document"
            else None
        ),
    )
    yield page, watch


def test_the_public_pages_and_flows_run_under_the_policy(watched, portal):
    from documents import qr, service
    from documents.models import Addressee

    page, watch = watched
    # The home page, then a file checked in the browser (script, Web Crypto, fetch) and
    # its result page following the job (script, then its reload).
    page.goto(portal.url + "/")
    form = page.locator("#check-file form")
    form.locator("input[type=file]").set_input_files(portal.stamped)
    form.get_by_role("button", name="只在浏览器中计算摘要").click()
    page.wait_for_url("**/verifications/*")
    _outcome(page, "verified")

    # An upload from the record page, its result, and the certificate page.
    page.goto(f"{portal.url}/v/{portal.code}")
    expect(page.locator("h1")).to_have_text(portal.title)
    form = page.locator("form[data-digest-form]")
    form.locator("input[type=file]").set_input_files(portal.stamped)
    form.get_by_role("button", name="上传并核对").click()
    page.wait_for_url("**/verifications/*")
    _outcome(page, "verified")
    certificate = page.locator("[data-certificate] a")
    expect(certificate).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    certificate.click()
    page.wait_for_url("**/c/*")

    # A photo of the printed page opens the record; a QR code of another website warns.
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", portal.stamped, portal.tmp / "p"],
        check=True,
        timeout=60,
    )
    [photo] = portal.tmp.glob("p*.png")
    page.goto(portal.url + "/")
    page.locator("#photo").set_input_files(photo)
    page.get_by_role("button", name="识别二维码").click()
    page.wait_for_url(f"{portal.url}/v/{portal.code}")
    forged = portal.file("forged.png", qr.png(f"https://evil.example/v/{portal.code}"))
    page.goto(portal.url + "/")
    page.locator("#photo").set_input_files(forged)
    page.get_by_role("button", name="识别二维码").click()
    expect(page.locator("[data-foreign-host]")).to_have_attribute(
        "data-foreign-host", "evil.example"
    )

    # A mistyped code (a message on the home page), a missing page, the judges' sign-in,
    # an addressee's service link.
    page.goto(portal.url + "/lookup?code=ABC")
    expect(page.get_by_role("alert")).to_be_visible()
    page.goto(portal.url + "/no-such-page")
    page.goto(portal.url + "/accounts/login/")
    link = service.service_link(Addressee.objects.first()).split("/s/", 1)[1]
    page.goto(f"{portal.url}/s/{link}")
    expect(page.locator("main")).to_contain_text(portal.title)

    watch.clean()


def test_the_api_documentation_runs_under_its_policy(watched, portal):
    page, watch = watched
    page.goto(portal.url + "/api/docs/")
    expect(page.get_by_text("Judicial verification portal API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/verifications").first).to_be_attached()
    page.wait_for_load_state("networkidle")
    watch.clean()


def test_the_admin_runs_under_the_policy(watched, portal):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    admin.set_password("pw-for-tests")
    admin.save()
    page, watch = watched
    # The judges' sign-in lands on their search (the admin's superuser is a judge too);
    # a part of the case number finds the record, whose page shows it unmasked.
    page.goto(portal.url + "/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "pw-for-tests")
    page.locator("main form [type=submit]").click()
    page.wait_for_url(portal.url + "/judges")
    expect(page.locator("header [data-signed-in]")).to_contain_text("admin")
    page.fill("#search-case_number", portal.case_number[-8:])
    page.locator("#search [type=submit]").click()
    page.get_by_role("link", name=portal.code).first.click()
    page.wait_for_url(f"{portal.url}/v/{portal.code}")
    expect(page.locator("main")).to_contain_text(portal.case_number)
    page.goto(portal.url + "/admin/documents/record/")
    expect(page.locator("#result_list")).to_be_visible()
    page.locator("#result_list tbody a").first.click()
    page.wait_for_url("**/change/")
    page.wait_for_load_state("networkidle")
    watch.clean()
