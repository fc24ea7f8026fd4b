"""What Django itself refuses or fails (unknown paths, bodies over its limits, forbidden
forms, exceptions, a NUL in the address) answers the portal's error page in the reader's
language, everywhere but the API, which answers its JSON error body (tests/api)."""

import re

import pytest
from django.test import Client

from plumbing import error_codes
from verification.models import Verification

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


def page(response, status: int, words, english: bool = False, **params) -> str:
    """The portal's error page with `status`, saying `words` in one language: Chinese,
    or English when the request asked for it."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    zh, en = words.zh.format(**params), words.en.format(**params).replace("'", "&#x27;")
    if english:
        assert '<html lang="en">' in html and "Back to the home page" in html
        assert en in html and zh not in html and not CJK.search(html.split("<main")[1])
    else:
        assert '<html lang="zh-Hans">' in html and "返回首页" in html
        assert zh in html and en not in html and "Back to the home page" not in html
    assert 'name="viewport"' in html
    return html


@pytest.mark.parametrize("path", ["/no-such-page", "/verify/", "/c/ABC/certificate.pdf"])
def test_an_unknown_page_is_the_portals_404(client, path):
    html = page(client.get(path), 404, error_codes.PAGE_NOT_FOUND)
    assert "<title>页面不存在</title>" in html


def test_an_unknown_page_in_english(client):
    response = client.get("/no-such-page", HTTP_ACCEPT_LANGUAGE="en")
    html = page(response, 404, error_codes.PAGE_NOT_FOUND, english=True)
    assert "<title>Page not found</title>" in html


@pytest.mark.parametrize(
    "path", ["/verifications/%00", "/v/%00", "/lookup?code=%00", "/s/%00", "/?x=%00"]
)
def test_a_nul_in_a_page_address_is_a_400_page(client, path):
    page(client.get(path), 400, error_codes.NUL_IN_ADDRESS)
    assert not Verification.objects.exists()


def test_a_refusal_before_the_language_is_chosen_follows_the_language_cookie(client, settings):
    """A NUL is refused by a middleware that runs before LocaleMiddleware."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page(client.get("/?x=%00", HTTP_ACCEPT_LANGUAGE="zh"), 400, error_codes.NUL_IN_ADDRESS, True)


def test_a_form_over_the_field_limit_is_a_400_page(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    form = {f"field{i}": "x" for i in range(10)}
    html = page(client.post("/verify", form), 400, error_codes.TOO_MANY_FIELDS, limit=5)
    assert "无法处理的请求" in html
    assert not Verification.objects.exists()


def test_a_form_over_the_body_limit_is_a_413_page(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    form = {"code": "x" * 2000}
    page(client.post("/verify/photo", form), 413, error_codes.REQUEST_TOO_LARGE, limit=1000)


def test_a_form_without_its_csrf_token_says_why_and_offers_to_send_again():
    client = Client(enforce_csrf_checks=True)
    form = {"username": "judge", "password": "x"}
    referer = "http://testserver/accounts/login/?next=/admin/"
    response = client.post("/accounts/login/", form, HTTP_REFERER=referer)
    assert response.status_code == 403
    html = response.content.decode()
    assert '<html lang="zh-Hans">' in html and "<h1>表单未能提交</h1>" in html
    assert "浏览器禁止了 Cookie" in html and "Forbidden" not in html
    assert f'href="{referer}" data-back>返回并重新提交</a>' in html

    response = client.post("/accounts/login/", form, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 403 and '<html lang="en">' in html
    assert "<h1>The form could not be sent</h1>" in html and "blocks cookies" in html
    assert 'href="/" data-back>Go back and send it again</a>' in html  # no Referer: home
    assert not CJK.search(html.split("<main")[1])


def test_a_forbidden_page_in_either_language(rf):
    from portal.error_answers import permission_denied

    page(permission_denied(rf.get("/x")), 403, error_codes.PAGE_FORBIDDEN)
    english = permission_denied(rf.get("/x", HTTP_ACCEPT_LANGUAGE="en"))
    assert "<h1>Forbidden</h1>" in page(english, 403, error_codes.PAGE_FORBIDDEN, True)


def test_a_csrf_failure_never_sends_the_reader_to_another_site():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/language", {"language": "en"}, HTTP_REFERER="https://evil.example/")
    assert 'href="/" data-back>' in response.content.decode()


def test_a_failing_page_is_the_portals_500_and_the_api_answers_json(monkeypatch):
    from portal import health

    def broken():
        raise RuntimeError("a fault")

    monkeypatch.setattr(health, "report", broken)
    client = Client(raise_request_exception=False)
    page(client.get("/health"), 500, error_codes.SERVER_ERROR)
    english = client.get("/health", HTTP_ACCEPT_LANGUAGE="en")
    assert "<h1>Try again later</h1>" in page(english, 500, error_codes.SERVER_ERROR, True)

    from verification import api

    monkeypatch.setattr(api, "result_json", lambda *args: broken())
    pending = Verification.objects.create(source=Verification.Source.DIGEST, sha256="ab" * 32)
    response = client.get(f"/api/v1/verifications/{pending.pk}")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "server_error" and CJK.search(error["message"]["zh"])
    assert error["message"]["en"].isascii()
