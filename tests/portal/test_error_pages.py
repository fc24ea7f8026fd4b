"""What Django itself refuses or fails (unknown paths, bodies over its limits, forbidden
forms, exceptions, a NUL in the address) answers the portal's error page, Chinese then
English, everywhere but the API, which answers its JSON error body (tests/api)."""

import re

import pytest
from django.test import Client

from plumbing import error_codes
from verification.models import Verification

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


def page(response, status: int, words, **params) -> str:
    """The portal's error page with `status`, saying `words` in Chinese, then in English."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert '<html lang="zh-Hans">' in html and "返回首页" in html
    zh, en = words.zh.format(**params), words.en.format(**params).replace("'", "&#x27;")
    assert zh in html and en in html
    assert html.index(zh) < html.index(en)
    return html


@pytest.mark.parametrize("path", ["/no-such-page", "/verify/", "/c/ABC/certificate.pdf"])
def test_an_unknown_page_is_the_portals_404(client, path):
    page(client.get(path), 404, error_codes.PAGE_NOT_FOUND)


@pytest.mark.parametrize(
    "path", ["/verifications/%00", "/v/%00", "/lookup?code=%00", "/s/%00", "/?x=%00"]
)
def test_a_nul_in_a_page_address_is_a_400_page(client, path):
    page(client.get(path), 400, error_codes.NUL_IN_ADDRESS)
    assert not Verification.objects.exists()


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


def test_a_form_without_its_csrf_token_is_a_403_page():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "judge", "password": "x"})
    page(response, 403, error_codes.PAGE_FORBIDDEN)


def test_a_failing_page_is_the_portals_500_and_the_api_answers_json(monkeypatch):
    from portal import health

    def broken():
        raise RuntimeError("a fault")

    monkeypatch.setattr(health, "report", broken)
    client = Client(raise_request_exception=False)
    page(client.get("/health"), 500, error_codes.SERVER_ERROR)

    from verification import api

    monkeypatch.setattr(api, "result_json", lambda *args: broken())
    pending = Verification.objects.create(source=Verification.Source.DIGEST, sha256="ab" * 32)
    response = client.get(f"/api/v1/verifications/{pending.pk}")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "server_error" and CJK.search(error["message"]["zh"])
    assert error["message"]["en"].isascii()
