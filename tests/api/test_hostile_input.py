"""Hostile input to the JSON API: every refusal is a 4xx in the API's error shape, with
Chinese under `zh` and English under `en`, and writes nothing."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import parsers
from rest_framework.test import APIClient
from rest_framework.views import APIView

from anchoring.models import Alarm, Entry, Submission
from documents import codes, ledger, registration
from documents.models import Court, CourtToken, IdempotentRequest, Record, ServiceEvent
from verification.models import Verification

CJK = re.compile(r"[\u4e00-\u9fff]")
# Deep enough that Python's json module would raise RecursionError.
DEEP = 100_000


def refusal(response, status: int, code: str) -> dict:
    """The answer is `status` with error `code`, zh in Chinese and en in English."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert error["code"] == code, error
    assert CJK.search(error["message"]["zh"]), error
    assert error["message"]["en"].isascii() and not CJK.search(error["message"]["en"]), error
    return error


def rows() -> dict[str, int]:
    """How many rows each table a request could write holds."""
    models = (Record, ServiceEvent, Submission, Entry, IdempotentRequest, Verification, Alarm)
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def court_client(running_sequencer, settings, tmp_path) -> tuple[APIClient, str]:
    """A court system's client and the code of one of its litigation documents."""
    settings.MEDIA_ROOT = tmp_path / "media"
    court = Court.objects.create(code="BJ0105", name_zh="北京市朝阳区人民法院", name_en="Chaoyang")
    record = registration.register(
        registration.NewRecord(
            court=court,
            category=Record.Category.LITIGATION_DOCUMENT,
            title="民事判决书",
            sha256=bytes.fromhex("ab" * 32),
            sm3=bytes.fromhex("cd" * 32),
        )
    )
    ledger.await_ledger(record)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {CourtToken.issue(court, 'system')[1]}")
    return client, codes.display(record.code)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _json_endpoints(code: str) -> list[str]:
    return [
        "/api/v1/verifications",
        "/api/v1/verifications/batch",
        "/api/v1/records",
        "/api/v1/records/batch",
        f"/api/v1/records/{code}/events",
    ]


@pytest.mark.parametrize(
    "body",
    [_deep(DEEP), '{"items": ' + _deep(DEEP) + "}", '{"records": [' + _deep(DEEP) + "]}"],
    ids=["array", "in-items", "in-records"],
)
def test_json_nested_too_deep_is_refused_everywhere(court_client, body, settings):
    client, code = court_client
    before = rows()
    for path in _json_endpoints(code):
        response = client.generic(
            "POST", path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        error = refusal(response, 400, "json_too_deep")
        assert str(settings.API_JSON_MAX_DEPTH) in error["message"]["en"], path
    assert rows() == before


def test_json_within_the_depth_limit_is_parsed(court_client, settings):
    client, _ = court_client
    settings.API_JSON_MAX_DEPTH = 3
    ok = {"items": [{"sha256": "ab" * 32}]}  # depth 3
    response = client.post("/api/v1/verifications/batch", ok, format="json")
    assert response.status_code == 202, response.content
    # Brackets inside strings are text, not nesting.
    text = {"items": [{"sha256": "[[[[{{{{" + '\\"[[['}]}
    refusal(
        client.post("/api/v1/verifications/batch", text, format="json"), 400, "malformed_digest"
    )
    deeper = {"items": [{"sha256": ["ab" * 32]}]}  # depth 4
    refusal(client.post("/api/v1/verifications/batch", deeper, format="json"), 400, "json_too_deep")


def _api_views():
    """Every DRF view the URLconf routes to."""

    def walk(patterns):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns)
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", None) or getattr(p.callback, "cls", None)
                if view is not None and issubclass(view, APIView):
                    yield view

    return set(walk(get_resolver().url_patterns))


def test_every_api_view_parses_json_with_the_depth_limit():
    from plumbing.parsers import JSONParser

    views = _api_views()
    assert len(views) > 10
    for view in views:
        for parser in view().get_parsers():
            if isinstance(parser, parsers.JSONParser):
                assert isinstance(parser, JSONParser), view


# --- Characters PostgreSQL text cannot hold -----------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/verifications/%00",
        "/api/v1/verifications/a%00b",
        "/api/v1/verifications/batch/%00",
        "/api/v1/records/%00",
        "/api/v1/records/%00/events",
        "/api/v1/records/%00/qr.png",
        "/api/v1/records/%00/file",
        "/api/v1/records?case_number=%00",
        "/api/v1/records?category=%00",
        "/api/v1/records?%00=1",
        "/api/v1/ledger/entries?record_code=AB%00",
        "/api/v1/ledger/entries?sha256=%00",
        "/api/v1/ledger/checkpoint?size=%00",
    ],
)
def test_a_nul_in_a_path_or_query_parameter_is_a_clear_400(court_client, path):
    client, _ = court_client
    before = rows()
    error = refusal(client.get(path), 400, "invalid_characters")
    assert "NUL" in error["message"]["en"]
    assert rows() == before


def test_a_nul_in_a_posted_path_parameter_writes_nothing(court_client):
    client, _ = court_client
    before = rows()
    body = {"event": "issued"}
    refusal(
        client.post("/api/v1/records/%00/events", body, format="json"), 400, "invalid_characters"
    )
    assert rows() == before


# --- Django's own refusals of a request, in the API's shape ------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here", "/api/v1/records/", "/api/v1/verifications/", "/api/v2/x"]
)
def test_an_unknown_api_path_is_a_json_404(client, db, path):
    refusal(client.get(path), 404, "not_found")
    refusal(client.post(path, {}, content_type="application/json"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/v1/verifications"),
        ("delete", "/api/v1/verifications/x"),
        ("post", "/api/v1/ledger/checkpoint"),
    ],
)
def test_a_wrong_method_is_a_json_405(client, db, method, path):
    refusal(getattr(client, method)(path), 405, "method_not_allowed")


def test_a_wrong_method_on_the_court_api_is_a_json_405(court_client):
    client, code = court_client
    refusal(client.patch("/api/v1/records"), 405, "method_not_allowed")
    refusal(client.delete(f"/api/v1/records/{code}"), 405, "method_not_allowed")


def test_an_oversized_form_body_is_a_json_413(court_client, settings):
    client, code = court_client
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = rows()
    title = "t" * 20_000
    form = {"category": "evidence", "title": title, "sha256": "ab" * 32, "sm3": "cd" * 32}
    for fmt in ("multipart", None):
        if fmt:
            response = client.post("/api/v1/records", form, format=fmt)
        else:
            from urllib.parse import urlencode

            response = client.generic(
                "POST",
                "/api/v1/records",
                urlencode(form),
                content_type="application/x-www-form-urlencoded",
            )
        error = refusal(response, 413, "request_too_large")
        assert "10000" in error["message"]["en"]
    event = {"event": "sent", "channel": "sms", "addressee": "李" * 20_000}
    response = client.post(f"/api/v1/records/{code}/events", event, format="multipart")
    refusal(response, 413, "request_too_large")
    assert rows() == before


def test_an_oversized_json_body_is_a_json_413(court_client, settings):
    client, _ = court_client
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = rows()
    items = [{"sha256": "ab" * 32} for _ in range(200)]  # about 15 KB
    for path, body in (
        ("/api/v1/verifications/batch", {"items": items}),
        ("/api/v1/records/batch", {"records": items}),
        ("/api/v1/verifications", {"sha256": "ab" * 32, "pad": "x" * 20_000}),
    ):
        refusal(client.post(path, body, format="json"), 413, "request_too_large")
    assert rows() == before


def test_too_many_fields_or_files_is_a_json_400(court_client, settings):
    client, code = court_client
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    before = rows()
    many = {"category": "evidence", "title": "t", "parties": [f"p{i}" for i in range(20)]}
    refusal(client.post("/api/v1/records", many, format="multipart"), 400, "too_many_fields")
    event = {"event": "issued", **{f"x{i}": "1" for i in range(20)}}
    response = client.post(f"/api/v1/records/{code}/events", event, format="multipart")
    refusal(response, 400, "too_many_fields")
    files = {f"file{i}": SimpleUploadedFile(f"f{i}.txt", b"data") for i in range(5)}
    response = client.post("/api/v1/verifications", files, format="multipart")
    refusal(response, 400, "too_many_files")
    assert rows() == before


def test_a_path_parameter_naming_a_sibling_endpoint_is_a_documented_405(court_client):
    """GET /verifications/batch is the batch endpoint's own path, which takes POST only:
    schemathesis sends such values, and the answer must be one the schema lists."""
    client, _ = court_client
    refusal(client.get("/api/v1/verifications/batch"), 405, "method_not_allowed")
    refusal(client.get("/api/v1/records/batch"), 405, "method_not_allowed")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/v1/verifications/{verification_id}", "/api/v1/records/{code}"):
        assert "405" in schema["paths"][path]["get"]["responses"], path


def test_the_api_answers_a_format_it_cannot_give_in_its_error_shape(client, db):
    refusal(client.get("/api/v1/ledger/entries?sha256=ab&format=yaml"), 404, "not_found")
