"""Page middleware (sessions, language, CSRF, users, messages, frame options) runs on the
site's pages and is skipped on the token API under /api/v1/ (portal/middleware.py)."""

import gc

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


def _cyclic_garbage_of(path: str, token: str) -> int:
    """Objects that only the cyclic collector frees, left by one request to `path`."""
    from django.test.client import ClientHandler, RequestFactory

    # The test client's own handler (it keeps the test's database connection open), its
    # middleware loaded from the current settings; not the client, whose answers hold
    # cycles of their own.
    handler = ClientHandler()

    def request() -> None:
        environ = RequestFactory().get(path, HTTP_AUTHORIZATION=f"Token {token}").environ
        handler(environ).close()

    request()  # first use: imports and caches
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        request()
        return gc.collect()
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.django_db(transaction=True)  # the court API gives its connection back
@pytest.mark.parametrize(
    "path, token",
    [
        ("/api/v1/records", "not-a-token"),  # 401
        ("/api/v1/records", "valid"),  # 200, the court's (empty) list
        ("/api/v1/records/ABCD-EFGH-JKMN", "valid"),  # 404, an API error
    ],
)
def test_api_answers_leave_no_reference_cycles(path, token, settings):
    from documents.models import Court, CourtToken

    if token == "valid":
        court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
        token = CourtToken.issue(court, "case system")[1]
    assert _cyclic_garbage_of(path, token) == 0
    # Without the middleware, DRF's view, request and response hold each other.
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("BreakApiCycles")]
    assert _cyclic_garbage_of(path, token) > 20
