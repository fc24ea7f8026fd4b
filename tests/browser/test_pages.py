"""The public pages in a real browser, with every verification run by a real worker."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pytest
from playwright.sync_api import Page, Request, expect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CORE_STEPS = [
    "digest",
    "lookup",
    "record",
    "leaf",
    "checkpoint",
    "witnesses",
    "inclusion",
    "consistency",
]
SERVICE_STEPS = ["service:issued", "service:sent", "service:opened", "service:acknowledged"]
# No timestamp authority is configured here: trusted time is pending (the court's own
# clock), which leaves the outcome verified.
PENDING = {"timestamp": "inconclusive"}
RESULT_TIMEOUT_MS = 30_000  # the worker takes well under a second; this only bounds a hang


def _steps(page: Page) -> dict[str, str]:
    items = page.locator("[data-step]")
    return {
        items.nth(i).get_attribute("data-step"): items.nth(i).get_attribute("data-step-status")
        for i in range(items.count())
    }


def _outcome(page: Page, outcome: str) -> None:
    """Wait until the result page, refreshing itself, shows the outcome."""
    expect(page.locator(f"[data-outcome={outcome}]")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.locator("[data-verification]")).to_have_attribute("data-status", "done")


def _upload_the_judgment(page, portal) -> None:
    """Upload the served judgment from the home page and wait for it to be verified."""
    page.goto(portal.url + "/")
    form = page.locator("#check-file form")
    form.locator("input[type=file]").set_input_files(portal.stamped)
    form.get_by_role("button", name="上传并核验").click()

    page.wait_for_url("**/verifications/*")
    _outcome(page, "verified")


def test_upload_from_the_home_page_is_verified_with_every_step(page, portal):
    _upload_the_judgment(page, portal)
    expect(page.locator("h1.outcome")).to_have_text("核验通过")
    expect(page.locator("main")).to_contain_text(f"《{portal.title}》")

    steps = _steps(page)
    assert list(steps) == [*CORE_STEPS, "timestamp", *SERVICE_STEPS], steps
    assert steps["inclusion"] == "passed"
    assert {name: status for name, status in steps.items() if status != "passed"} == PENDING
    expect(page.locator("main")).to_contain_text(
        hashlib.sha256(portal.stamped.read_bytes()).hexdigest()
    )


def test_a_changed_copy_from_the_record_page_is_not_identical(page, portal):
    changed = bytearray(portal.stamped.read_bytes())
    changed[len(changed) // 2] ^= 0x01
    copy = portal.file("judgment.pdf", bytes(changed))

    page.goto(f"{portal.url}/v/{portal.code}")
    expect(page.locator("h1")).to_have_text(portal.title)
    form = page.locator("form[data-digest-form]")
    expect(form.locator("input[name=code]")).to_have_value(portal.code)
    form.locator("input[type=file]").set_input_files(copy)
    form.get_by_role("button", name="上传并核对").click()

    page.wait_for_url("**/verifications/*")
    _outcome(page, "mismatch")
    expect(page.locator("h1.outcome")).to_have_text("与登记文件不一致")
    expect(page.locator("main")).to_contain_text(portal.code)
    assert _steps(page)["content"] == "failed"


def test_the_in_browser_digest_never_uploads_the_file(page, portal):
    content = portal.stamped.read_bytes()
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)

    page.goto(portal.url + "/")
    form = page.locator("#check-file form")
    button = form.get_by_role("button", name="只在浏览器中计算摘要")
    expect(button).to_be_visible()  # hidden in the HTML, shown by the script
    form.locator("input[type=file]").set_input_files(portal.stamped)
    button.click()

    page.wait_for_url("**/verifications/*")
    _outcome(page, "verified")
    assert page.locator("h1.outcome").inner_text() == "核验通过"
    assert _steps(page)["inclusion"] == "passed"
    # Both digests, computed by hash-wasm in the page, are what Python computes.
    sm3 = _sm3(content)
    digests = page.locator("dl.digests")
    expect(digests).to_contain_text(hashlib.sha256(content).hexdigest())
    expect(digests).to_contain_text(sm3)

    assert [(r.url.removeprefix(portal.url), r.resource_type) for r in posts] == [
        ("/api/v1/verifications", "fetch")
    ]
    [sent] = posts
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.post_data) == {
        "sha256": hashlib.sha256(content).hexdigest(),
        "sm3": sm3,
        "source": "browser",
    }
    assert len(sent.post_data_buffer) < 300  # the digests, never the file


def _sm3(data: bytes) -> str:
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def test_the_in_browser_digest_streams_a_large_file_with_progress(browser, portal, settings):
    """A file of several slices, in English: the status counts megabytes slice by slice in
    the page's language, the bar fills, and the digests sent are the file's (every slice
    hashed in order, none twice). The portal's answer is held back here as a 503, so the
    page stays to be looked at. Uploaded, the same file is over the limit set here: it is
    refused beside its field, named, before a byte of it is sent."""
    import os

    settings.VERIFY_MAX_FILE_SIZE = 16 << 20
    content = os.urandom(3 * (8 << 20) + 12345)  # three 8 MiB slices and a bit
    path = portal.file("evidence.bin", content)
    sent = []

    def busy(route):
        sent.append(json.loads(route.request.post_data))
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": {"message": {"zh": "稍后再试。", "en": "Try later."}}}),
        )

    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.route("**/api/v1/verifications", busy)
        page.goto(portal.url + "/")
        form = page.locator("#check-file form")
        form.locator("input[type=file]").set_input_files(path)

        form.get_by_role("button", name="Upload and check").click()
        beside = page.locator("#file-error")
        too_large = (
            "“evidence.bin”: The file is over the 0.015625 GiB limit; use the in-browser digest."
        )
        expect(beside).to_have_text(too_large)
        expect(page.locator("#file")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("alert")).to_have_text(too_large)
        assert posts == []  # nothing was sent

        page.evaluate(
            """() => {
            window.statuses = [];
            const status = document.querySelector("#check-file [data-digest-status]");
            new MutationObserver(() => window.statuses.push(status.textContent))
                .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
        )
        form.get_by_role("button", name="Check without uploading").click()
        expect(form.locator("[data-digest-status]")).to_have_text("Try later.")
        statuses = page.evaluate("window.statuses")
        total = "24.0 MB"
        assert any(f"Hashing on your device: 8.0 MB / {total} (33%)" in s for s in statuses), (
            statuses
        )
        assert any(f"{total} / {total} (100%)" in s for s in statuses), statuses
        assert not any(re.search(r"[\u3000-\u9fff\uff00-\uffef]", s) for s in statuses), statuses
        assert form.locator("[data-digest-progress]").evaluate("bar => bar.value") == 1
        assert sent == [
            {
                "sha256": hashlib.sha256(content).hexdigest(),
                "sm3": _sm3(content),
                "source": "browser",
            }
        ]
    finally:
        context.close()


def test_a_photo_of_the_printed_qr_code_opens_the_record(page, portal):
    subprocess.run(
        [
            "pdftoppm",
            *["-r", "150", "-png", "-f", "1", "-l", "1"],
            portal.stamped,
            portal.tmp / "page",
        ],
        check=True,
        timeout=60,
    )
    [photo] = portal.tmp.glob("page*.png")

    page.goto(portal.url + "/")
    form = page.locator("#check-photo form:has(#photo)")
    form.locator("input[type=file]").set_input_files(photo)
    form.get_by_role("button", name="识别二维码").click()

    page.wait_for_url(f"{portal.url}/v/{portal.code}")
    expect(page.locator("h1")).to_have_text(portal.title)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(portal.code)
    expect(facts).to_contain_text("（2026）示0105民初**24号")  # masked for the public
    assert portal.case_number not in page.content()


def test_a_photo_without_a_qr_code_says_so_beside_the_photo(page, portal):
    from PIL import Image

    blank = portal.tmp / "blank.png"
    Image.new("RGB", (400, 300), "white").save(blank)

    page.goto(portal.url + "/")
    form = page.locator("#check-photo form:has(#photo)")
    form.locator("input[type=file]").set_input_files(blank)
    form.get_by_role("button", name="识别二维码").click()

    page.wait_for_url(portal.url + "/#check-photo")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(
        "“blank.png”：照片中没有识别到二维码：请对准二维码、保持清晰后重拍。"
    )
    photo = page.locator("#photo")
    expect(photo).to_have_attribute("aria-invalid", "true")
    expect(photo).to_have_accessible_description(alert.inner_text())
    expect(alert.get_by_role("link")).to_have_attribute("href", "#photo")  # to the field


def test_without_javascript_the_upload_and_the_refresh_work(page_without_javascript, portal):
    page = page_without_javascript
    shown: list[str] = []  # each result page the browser loaded, pending or done
    page.on(
        "response",
        lambda r: shown.append(r.text()) if "/verifications/" in r.url else None,
    )
    _upload_the_judgment(page, portal)
    expect(page.locator("h1.outcome")).to_contain_text("核验通过")
    steps = _steps(page)
    assert {name: status for name, status in steps.items() if status != "passed"} == PENDING
    # The page goes on refreshing while its certificate is made, and stops once it is.
    expect(page.locator("[data-certificate]")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    # Every page before the last came back by its meta refresh: no script ran. Each was
    # still checking, or done with the certificate still being made.
    assert shown, "no result page was loaded"
    for body in shown[:-1]:
        assert '<meta http-equiv="refresh"' in body
        assert "正在核验" in body or "正在生成签名的核验证书" in body
    assert 'http-equiv="refresh"' not in shown[-1]


def test_without_javascript_the_in_browser_digest_button_is_not_offered(
    page_without_javascript, live_server
):
    page = page_without_javascript
    page.goto(live_server.url + "/")
    button = page.locator("#check-file [data-browser-digest]")
    assert button.get_attribute("hidden") is not None  # the page asks for it to be hidden
    assert not button.is_visible()


def test_an_upload_on_a_slow_connection_shows_its_progress_and_goes_once(page, portal):
    """Upload throttled to 256 KiB/s (Chromium's own network emulation): the bar and the
    percentage move, the buttons are disabled while it goes, one POST reaches the portal,
    and the result follows."""
    import os

    content = os.urandom(1 << 20)
    path = portal.file("scan.bin", content)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 262144},
    )
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(portal.url + "/")
    form = page.locator("#check-file form")
    form.locator("input[type=file]").set_input_files(path)
    button = form.get_by_role("button", name="上传并核验")
    button.click()
    status = form.locator("[data-upload-status]")
    expect(status).to_contain_text("%")
    expect(button).to_be_disabled()
    assert 0 < form.locator("[data-upload-bar]").evaluate("bar => bar.value") <= 1
    assert "MB / 1.0 MB" in status.inner_text()
    page.wait_for_url("**/verifications/*")
    _outcome(page, "not_found")
    expect(page.locator("dl.digests")).to_contain_text(hashlib.sha256(content).hexdigest())
    assert [url.removeprefix(portal.url) for url in posts] == ["/verify"]
