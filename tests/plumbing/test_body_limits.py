"""A body over its endpoint's limit is refused before a byte of it is written anywhere.

Each upload endpoint has its own limit (VERIFY_MAX_FILE_SIZE, VERIFY_MAX_PHOTO_SIZE,
RECORD_MAX_FILE_SIZE), every other view takes DATA_UPLOAD_MAX_MEMORY_SIZE. A body whose
Content-Length says it is larger is refused at once, 413, in the endpoint's own words (the
API's JSON error, a page elsewhere); one that passes its files' limit as it streams in is
stopped there, and whatever was spooled of it is gone when the answer is sent.
"""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from rest_framework.test import APIClient

from anchoring.models import Submission
from documents.models import Court, CourtToken, IdempotentRequest, Record
from plumbing import error_codes
from plumbing.body_limits import FORM_ALLOWANCE
from verification import intake
from verification.models import Verification

pytestmark = pytest.mark.django_db

MB = 1 << 20
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def temp_dir(tmp_path, settings, monkeypatch):
    """Where uploads and every other temporary file go during the test (checked empty)."""
    folder = tmp_path / "temp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


@pytest.fixture
def spooled(monkeypatch):
    """Bytes Django's upload handlers write to temporary files, and bytes hashed by the
    verification's digesting handler, as the requests of the test send them."""
    seen = {"temp": 0, "digested": 0}
    to_temp = TemporaryFileUploadHandler.receive_data_chunk
    digest = intake.DigestingUploadHandler.receive_data_chunk

    def counting_temp(self, raw_data, start):
        seen["temp"] += len(raw_data)
        return to_temp(self, raw_data, start)

    def counting_digest(self, raw_data, start):
        seen["digested"] += len(raw_data)
        return digest(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting_temp)
    monkeypatch.setattr(intake.DigestingUploadHandler, "receive_data_chunk", counting_digest)
    return seen


@pytest.fixture
def court_client():
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {CourtToken.issue(court, 'case system')[1]}")
    return client


def _api_refusal(response, code: str = "file_too_large") -> dict:
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert CJK.search(error["message"]["zh"]) and error["message"]["en"].isascii(), error
    return error


def _page_refusal(response, message: error_codes.PageMessage, **params) -> str:
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<html lang="zh-Hans">' in page and "<h1>无法接收发送的内容</h1>" in page
    assert message.zh.format(**params) in page
    assert message.en.format(**params).replace("'", "&#x27;") not in page  # one language
    return page


def _nothing_written(temp_dir, spooled) -> None:
    assert spooled["temp"] == 0 and spooled["digested"] == 0, spooled
    assert list(temp_dir.iterdir()) == []


def test_an_oversized_photo_is_refused_before_a_byte_is_written(
    client, settings, temp_dir, spooled
):
    settings.VERIFY_MAX_PHOTO_SIZE = 1 * MB
    photo = SimpleUploadedFile("page.jpg", b"\xff" * (4 * MB), "image/jpeg")
    response = client.post("/verify/photo", {"photo": photo})
    _page_refusal(response, error_codes.PAGE_PHOTO_TOO_LARGE)
    _nothing_written(temp_dir, spooled)


def test_an_oversized_court_upload_is_refused_before_a_byte_is_written(
    court_client, settings, temp_dir, spooled
):
    settings.RECORD_MAX_FILE_SIZE = 1 * MB
    form = {
        "file": SimpleUploadedFile("evidence.bin", b"x" * (4 * MB)),
        "category": "evidence",
        "title": "聊天记录",
    }
    response = court_client.post(
        "/api/v1/records", form, format="multipart", HTTP_IDEMPOTENCY_KEY="upload-1"
    )
    error = _api_refusal(response)
    assert error["field"] == "file" and "1 MB" in error["message"]["en"]
    _nothing_written(temp_dir, spooled)
    assert not Record.objects.exists() and not IdempotentRequest.objects.exists()
    assert not Submission.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/verifications", "/verify"])
def test_an_oversized_file_to_verify_is_refused_before_it_is_hashed(
    client, settings, temp_dir, spooled, path
):
    settings.VERIFY_MAX_FILE_SIZE = 1 * MB
    big = SimpleUploadedFile("evidence.bin", b"x" * (4 * MB))
    response = client.post(path, {"file": big})
    if path.startswith("/api/"):
        _api_refusal(response)
    else:
        _page_refusal(response, error_codes.PAGE_FILE_TOO_LARGE, limit="0.000976562")
    _nothing_written(temp_dir, spooled)
    assert not Verification.objects.exists()


def test_a_photo_just_over_its_limit_is_stopped_as_it_streams_in(
    client, settings, temp_dir, spooled
):
    # Within the form's allowance, so the declared length passes: the running count stops it.
    settings.VERIFY_MAX_PHOTO_SIZE = 1 * MB
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # spooled to the temporary folder
    photo = SimpleUploadedFile("page.jpg", b"\xff" * (MB + FORM_ALLOWANCE // 2), "image/jpeg")
    response = client.post("/verify/photo", {"photo": photo})
    _page_refusal(response, error_codes.PAGE_PHOTO_TOO_LARGE)
    assert spooled["temp"] <= MB
    assert list(temp_dir.iterdir()) == []


def test_a_court_file_just_over_its_limit_is_stopped_and_nothing_recorded(
    court_client, settings, temp_dir, spooled
):
    settings.RECORD_MAX_FILE_SIZE = 1 * MB
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    # The digests come first: a parser that stopped at the file and went on would record them.
    form = {
        "category": "evidence",
        "title": "聊天记录",
        "sha256": "ab" * 32,
        "sm3": "cd" * 32,
        "file": SimpleUploadedFile("evidence.bin", b"x" * (MB + FORM_ALLOWANCE // 2)),
    }
    response = court_client.post("/api/v1/records", form, format="multipart")
    assert _api_refusal(response)["field"] == "file"
    assert spooled["temp"] <= MB
    assert list(temp_dir.iterdir()) == []
    assert not Record.objects.exists() and not Submission.objects.exists()


def test_a_body_the_proxy_refused_is_answered_by_the_portal(client, court_client, spooled):
    # nginx sends the request on without its body, marked (docker/nginx/nginx.conf.template).
    marked = {"HTTP_X_BODY_TOO_LARGE": "1"}
    _api_refusal(court_client.post("/api/v1/records", {}, format="json", **marked))
    _api_refusal(client.post("/api/v1/verifications", {}, **marked))
    _page_refusal(client.post("/verify/photo", {}, **marked), error_codes.PAGE_PHOTO_TOO_LARGE)
    english = client.post("/verify/photo", {}, HTTP_ACCEPT_LANGUAGE="en", **marked).content
    assert b'<html lang="en">' in english and b"<h1>What was sent cannot be taken</h1>" in english
    assert (
        error_codes.PAGE_PHOTO_TOO_LARGE.en.encode() in english and "照片".encode() not in english
    )
    response = client.post("/api/v1/verifications/batch", {}, **marked)
    _api_refusal(response, "request_too_large")
    assert not Verification.objects.exists() and not Record.objects.exists()


def test_every_other_view_takes_no_more_than_a_small_body(client, settings, temp_dir, spooled):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1 * MB
    page = client.post("/lookup", {"file": SimpleUploadedFile("a.bin", b"x" * (4 * MB))})
    _page_refusal(page, error_codes.PAGE_REQUEST_TOO_LARGE, limit=MB)
    big = {"file": SimpleUploadedFile("a.bin", b"x" * (4 * MB))}
    error = _api_refusal(client.post("/api/v1/verifications/batch", big), "request_too_large")
    assert str(MB) in error["message"]["en"]
    _nothing_written(temp_dir, spooled)


def test_uploads_within_their_limits_still_pass(client, settings, temp_dir):
    settings.VERIFY_MAX_FILE_SIZE = 1 * MB
    exact = SimpleUploadedFile("evidence.bin", b"x" * MB)
    response = client.post("/api/v1/verifications", {"file": exact})
    assert response.status_code == 202, response.content[:300]
    assert response.json()["sha256"] is not None


def test_a_body_sent_in_chunks_is_refused_unread(client, court_client, temp_dir, spooled):
    # Django reads a WSGI body only as far as its Content-Length: without one, none of it.
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""}
    photo = {"photo": SimpleUploadedFile("page.jpg", b"\xff" * 1024, "image/jpeg")}
    page = client.post("/verify/photo", photo, **chunked)
    assert page.status_code == 411
    assert error_codes.PAGE_LENGTH_REQUIRED.zh in page.content.decode()
    response = court_client.post("/api/v1/records", {"title": "t"}, format="multipart", **chunked)
    assert response.status_code == 411 and response.json()["error"]["code"] == "length_required"
    _nothing_written(temp_dir, spooled)
    assert not Record.objects.exists() and not IdempotentRequest.objects.exists()
