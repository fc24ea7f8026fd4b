"""Page middleware (sessions, language, CSRF, users, messages, frame options) runs on the
site's pages and is skipped on the token API under /api/v1/ (portal/middleware.py)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_pages_keep_frame_options_language_and_csrf():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert page["Content-Language"] == "en"
    # A form posted without its CSRF token is refused.
    login = client.post("/accounts/login/", {"username": "judge", "password": "x"})
    assert login.status_code == 403


def test_the_api_skips_page_middleware():
    answer = Client().get("/api/v1/records", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 401  # the court API's own JSON error, unchanged
    assert answer.json()["error"]["code"] == "not_authenticated"
    assert "X-Frame-Options" not in answer
    assert "Content-Language" not in answer
    assert "Set-Cookie" not in answer
