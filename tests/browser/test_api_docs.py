"""The API documentation page (/api/docs/) in Chromium: it loads nothing from another site,
axe-core finds no violation, and it shows the operations under their three audiences with
their bilingual summaries. It needs only the live server: no worker, no sequencer."""

from __future__ import annotations

from playwright.sync_api import expect

from portal import api_description
from tests.browser.axe import assert_no_violations


def test_the_api_documentation_is_the_portals_own_and_accessible(page, live_server):
    own = (live_server.url + "/", f"blob:{live_server.url}/", "data:")
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(own) else elsewhere.append(r.url))

    page.goto(live_server.url + "/api/docs/")
    # The frame in the reader's language (the browser asks for Chinese), the schema's
    # texts in both.
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page).to_have_title("接口文档 · 司法文书核验平台")
    # Redoc names a heading with its link's label too ("tag/ledger 公开账本 · Public ledger").
    for tag in api_description.TAGS:
        expect(page.get_by_role("heading", name=tag["x-displayName"])).to_be_visible()
    expect(page.get_by_role("heading", name="核验文件 · Verify a file")).to_be_visible()
    page.wait_for_load_state("networkidle")

    assert elsewhere == [], f"the page fetched from elsewhere: {elsewhere}"
    assert_no_violations(page)
