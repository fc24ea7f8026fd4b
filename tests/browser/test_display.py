"""The large-text mode and the skip link in Chromium: the text grows by a quarter, on
every page and after a reload; the first Tab reaches the skip link, which is then seen."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def _body_size(page) -> float:
    return page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")


def test_large_text_grows_every_page_and_the_skip_link_shows_on_focus(page, live_server):
    page.goto(live_server.url + "/")
    standard = _body_size(page)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # moved into view when focused

    page.locator("[data-display=large]").click()
    page.wait_for_load_state()
    assert _body_size(page) == pytest.approx(standard * 1.25)
    page.goto(live_server.url + "/courts")
    assert _body_size(page) == pytest.approx(standard * 1.25)
    page.reload()
    assert _body_size(page) == pytest.approx(standard * 1.25)

    page.locator("[data-display=standard]").click()
    page.wait_for_load_state()
    assert _body_size(page) == pytest.approx(standard)
