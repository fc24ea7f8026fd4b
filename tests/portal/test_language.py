"""One language at a time, Chinese first: Accept-Language, a kept choice, `<html lang>`."""

import pytest

pytestmark = pytest.mark.django_db


def _page(client, path="/", **headers) -> str:
    return client.get(path, **headers).content.decode()


def test_chinese_is_the_default_and_the_page_holds_no_english_heading(client):
    page = _page(client)
    assert '<html lang="zh-Hans"' in page
    assert "司法文书核验平台" in page and "Judicial Verification Portal" not in page
    assert 'data-language="en"' in page  # the switch offers the other language


def test_accept_language_english_gives_english_alone(client):
    page = _page(client, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert '<html lang="en"' in page
    assert "Judicial Verification Portal" in page and "司法文书核验平台" not in page
    assert 'data-language="zh-hans"' in page


def test_a_chosen_language_is_kept_over_accept_language_and_can_be_changed_back(client, settings):
    response = client.post("/language", {"language": "en", "back": "/courts"})
    assert response.status_code == 302 and response["Location"] == "/courts"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en" and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.LANGUAGE_COOKIE_AGE
    assert '<html lang="en"' in _page(client, "/courts", HTTP_ACCEPT_LANGUAGE="zh-CN")
    client.post("/language", {"language": "zh-hans", "back": "/"})
    assert '<html lang="zh-Hans"' in _page(client, HTTP_ACCEPT_LANGUAGE="en")


def test_an_unknown_language_or_foreign_target_changes_nothing(client, settings):
    response = client.post("/language", {"language": "fr", "back": "https://evil.example/"})
    assert response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert client.get("/language").status_code == 405
