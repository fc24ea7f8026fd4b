"""适老化: a skip link, a favicon, and a large-text mode (大字版) kept in a cookie."""

import pytest

pytestmark = pytest.mark.django_db


def test_every_page_has_a_skip_link_to_the_content_a_favicon_and_the_large_text_switch(client):
    for path in ("/", "/courts", "/alliance"):
        page = client.get(path).content.decode()
        assert '<a class="skip" href="#main">跳到正文' in page, path
        assert '<main id="main"' in page and 'rel="icon"' in page, path
        assert 'data-display="large"' in page and "大字版" in page, path


def test_large_text_is_kept_across_pages_and_can_be_switched_off(client, settings):
    response = client.post("/display", {"size": "large", "back": "/courts"})
    assert response.status_code == 302 and response["Location"] == "/courts"
    cookie = response.cookies["display"]
    assert cookie.value == "large" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.DISPLAY_COOKIE_AGE
    for path in ("/", "/courts"):
        page = client.get(path).content.decode()
        assert '<html lang="zh-Hans" class="large-text">' in page, path
        assert 'data-display="standard"' in page
    client.post("/display", {"size": "standard", "back": "/"})
    assert '<html lang="zh-Hans">' in client.get("/").content.decode()


def test_the_switch_only_ever_returns_to_this_site(client):
    response = client.post("/display", {"size": "large", "back": "https://evil.example/"})
    assert response["Location"] == "/"
    assert client.get("/display").status_code == 405
