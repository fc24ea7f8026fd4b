"""The batch page in a real browser, by keyboard alone: several files chosen, some hashed in
the browser and one uploaded, the table of outcomes, and the CSV downloaded."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import tab_to
from verification.models import Verification

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RESULT_TIMEOUT_MS = 30_000  # the checks take well under a second; this only bounds a hang


def test_a_batch_chosen_by_keyboard_fills_its_table_and_downloads_as_csv(page: Page, portal):
    stranger = portal.file("stranger.txt", b"no court recorded this")
    copy = portal.file("copy.pdf", portal.stamped.read_bytes())
    page.goto(portal.url + "/batch")

    tab_to(page, "#batch-files")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")  # the focus is visible
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([portal.stamped, stranger, copy])
    chosen = page.locator("[data-chosen] tbody tr")
    expect(chosen).to_have_count(3)

    # The second file is uploaded, the others hashed here (the default).
    tab_to(page, "[data-chosen] tbody tr:nth-child(2) select")
    page.keyboard.press("ArrowDown")
    expect(chosen.nth(1).locator("select")).to_have_value("upload")
    tab_to(page, "[data-batch-submit]")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/batch/[\w-]{22}$"))
    rows = page.locator("tr[data-row]")
    expect(rows).to_have_count(3)
    for i, outcome in enumerate(["verified", "not_found", "verified"]):
        expect(rows.nth(i)).to_have_attribute("data-outcome", outcome, timeout=RESULT_TIMEOUT_MS)
    expect(rows.nth(0)).to_contain_text(portal.stamped.name)
    expect(rows.nth(0)).to_contain_text("核验通过")
    expect(rows.nth(0)).to_contain_text(portal.code)

    batch = page.url.rsplit("/", 1)[-1]
    sources = Verification.objects.filter(batch=batch).order_by("batch_position")
    assert [v.source for v in sources] == ["browser", "upload", "browser"]

    page.locator("[data-batch-csv]").focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"batch-{batch}.csv"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    table = list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"))))
    assert [(r["file"], r["outcome"], r["record_code"]) for r in table] == [
        (portal.stamped.name, "verified", portal.code),
        ("stranger.txt", "not_found", ""),
        ("copy.pdf", "verified", portal.code),
    ]
