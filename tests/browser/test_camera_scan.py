"""The live camera scan of the home page (static/js/scan.js): Chromium's fake camera films
a printed QR code, the page reads it and opens the record; another website's code goes
to the server, which warns; the camera's failures are said in plain words.

Headless Chromium on Linux has no BarcodeDetector, so the camera's own frames are read by
the vendored zxing-wasm (the test removes BarcodeDetector all the same, so that it would
on any platform). The script's other path, a browser's BarcodeDetector, is driven by a
stand-in detector that answers what the test says it sees. The script tells which reader
it used in a `qr-read` event, kept here in sessionStorage across the navigation.
One live server for all of it: each browser context below is one situation.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.browser.fake_camera import paper_with_qr, write_y4m

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# Kept by every page of a context: what the script said it read, and with which reader.
RECORD_READ = """
document.addEventListener("qr-read", (e) => {
  sessionStorage.setItem("qr-read", JSON.stringify(e.detail));
});
"""
NO_BARCODE_DETECTOR = "delete window.BarcodeDetector;"
# A browser's BarcodeDetector that sees what window.fakeQr says (nothing while it is null).
STAND_IN_DETECTOR = """
window.fakeQr = null;
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["qr_code", "ean_13"]; }
  constructor(options) { this.formats = options.formats; }
  async detect(image) {
    if (!image.width || !this.formats.includes("qr_code")) throw new TypeError("no image");
    return window.fakeQr === null ? [] : [{ rawValue: window.fakeQr, format: "qr_code" }];
  }
};
"""
SCAN = "Scan the QR code with the camera"


@contextlib.contextmanager
def camera_browser(browser: Browser, video: Path) -> Iterator[Browser]:
    """A second Chromium whose camera films `video` (the flags are the browser's, not a
    context's); the permission prompt is answered yes."""
    args = [*CHROMIUM_ARGS, *FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"]
    camera = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        yield camera
    finally:
        camera.close()


@contextlib.contextmanager
def home(browser: Browser, portal, *scripts: str, locale: str = "en-US") -> Iterator[Page]:
    """The home page in a fresh context, with `scripts` run before the page's own; fails on
    any Content-Security-Policy violation the browser reports."""
    context = browser.new_context(locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    violations: list[str] = []
    try:
        for script in (RECORD_READ, *scripts):
            context.add_init_script(script)
        page = context.new_page()
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(portal.url + "/")
        yield page
        assert violations == []
    finally:
        context.close()


def read_by(page: Page) -> dict:
    """What the scan read and with which reader, as the script told it."""
    return json.loads(page.evaluate("sessionStorage.getItem('qr-read')"))


def status(page: Page):
    return page.locator("[data-scan-status]")


def test_the_camera_reads_the_printed_qr_code_and_opens_its_record(browser, portal):
    record = f"{portal.url}/v/{portal.code}"
    own = write_y4m(paper_with_qr(record), portal.tmp / "own.y4m")
    with camera_browser(browser, own) as camera:
        # The printed code, filmed, read by zxing-wasm, whose .wasm comes from this site.
        with home(camera, portal, NO_BARCODE_DETECTOR) as page:
            fetched: list[str] = []
            page.on("request", lambda r: fetched.append(r.url))
            page.get_by_role("button", name=SCAN).click()
            page.wait_for_url(record)
            assert read_by(page) == {"text": record, "reader": "zxing-wasm"}
            assert [u for u in fetched if u.endswith(".wasm")] != []
            assert [u for u in fetched if not u.startswith(portal.url)] == []  # no CDN

        # A browser's own reader: nothing in view, the camera refused, a code not ours,
        # then a bare record code. The zxing-wasm reader is not loaded.
        with home(camera, portal, STAND_IN_DETECTOR) as page:
            fetched = []
            page.on("request", lambda r: fetched.append(r.url))
            scan = page.locator("[data-camera-scan]")
            start = page.get_by_role("button", name=SCAN)
            video = page.locator("[data-camera-scan] video")
            scan.evaluate("(e) => { e.dataset.giveUpSeconds = 1; }")
            start.click()
            expect(status(page)).to_contain_text("No QR code was found.")
            expect(video).to_be_hidden()

            page.evaluate(
                "() => { navigator.mediaDevices.getUserMedia = async () => {"
                " throw new DOMException('Permission denied', 'NotAllowedError'); }; }"
            )
            start.click()
            expect(status(page)).to_contain_text("The camera was not allowed.")
            page.evaluate("delete navigator.mediaDevices.getUserMedia")  # the browser's again

            scan.evaluate("(e) => { e.dataset.giveUpSeconds = 600; }")
            page.evaluate("window.fakeQr = 'WIFI:S:court-guests;T:WPA;P:secret;;'")
            start.click()
            expect(status(page)).to_contain_text("This QR code is not one of this portal’s")
            expect(video).to_be_visible()  # still looking
            page.evaluate(f"window.fakeQr = {json.dumps(portal.code)}")
            page.wait_for_url(record)
            assert read_by(page) == {"text": portal.code, "reader": "barcode-detector"}
            assert [u for u in fetched if "zxing" in u] == []

    # Another website's address, with a real record code in it: not followed; the
    # camera's picture goes to the server, which names that website.
    foreign = f"https://evil.example/v/{portal.code}"
    elsewhere = write_y4m(paper_with_qr(foreign), portal.tmp / "foreign.y4m")
    with (
        camera_browser(browser, elsewhere) as camera,
        home(camera, portal, NO_BARCODE_DETECTOR) as page,
    ):
        fetched = []
        page.on("request", lambda r: fetched.append(r.url))
        page.get_by_role("button", name=SCAN).click()
        expect(page.locator("h1[data-foreign-host]")).to_have_attribute(
            "data-foreign-host", "evil.example"
        )
        assert page.url == portal.url + "/verify/photo"
        assert read_by(page) == {"text": foreign, "reader": "zxing-wasm"}
        assert [u for u in fetched if "evil.example" in u] == []

    # No camera at all (the package's browser has none), in Chinese, the default.
    with home(browser, portal, locale="zh-CN") as page:
        page.get_by_role("button", name="用相机扫描二维码").click()
        expect(status(page)).to_contain_text("这台设备上没有找到相机")
        expect(page.locator("#check-photo > form input[name=photo]")).to_be_visible()

    # Without JavaScript the photo form alone.
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(portal.url + "/")
        expect(page.locator("[data-camera-scan]")).to_be_hidden()
        expect(page.locator("#check-photo > form input[name=photo]")).to_be_visible()
    finally:
        context.close()
