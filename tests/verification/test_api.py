"""The verification API's answers to bad input, and its limits. Jobs queue on Redis."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from verification.models import Verification

pytestmark = pytest.mark.django_db


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["message"]["zh"] and error["message"]["en"]
    return error


def test_a_digest_is_accepted_with_an_unguessable_id_and_a_location(client):
    response = client.post(
        "/api/v1/verifications", {"sha256": "AB" * 32}, content_type="application/json"
    )
    body = response.json()
    assert response.status_code == 202
    assert response["Location"] == f"/api/v1/verifications/{body['id']}"
    # Checked in the request on the local ledger: the 202 already carries the outcome.
    assert len(body["id"]) >= 22 and body["status"] == "done"
    assert body["outcome"] == "not_found" and body["steps"]
    assert body["sha256"] == "ab" * 32
    assert Verification.objects.get().source == "digest"


def test_an_upload_is_hashed_and_not_kept(client, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    content = b"%PDF-1.7 some served document" * 1000
    # The code is typed the way people do: lower case, spaces for hyphens.
    response = client.post(
        "/api/v1/verifications",
        {"file": SimpleUploadedFile("a.pdf", content), "code": "7k3m9q xd4rtw 2hvbpz"},
    )
    assert response.status_code == 202, response.content
    v = Verification.objects.get()
    assert (v.sha256, v.size, v.code) == (
        hashlib.sha256(content).hexdigest(),
        len(content),
        "7K3M9QXD4RTW2HVBPZ",
    )
    assert v.sm3 and v.source == "upload" and v.filename == "a.pdf"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "payload, code, field",
    [
        ({}, "missing_digest", "sha256"),
        ({"sha256": "abc"}, "malformed_digest", "sha256"),
        ({"sha256": 12}, "malformed_digest", "sha256"),
        ({"sm3": "g" * 64}, "malformed_digest", "sm3"),
        ({"sha256": "ab" * 32, "code": "NOT-A-CODE"}, "malformed_code", "code"),
        ({"code": "7K3M9Q-XD4RTW-2HVBPZ"}, "missing_digest", "sha256"),
    ],
)
def test_bad_json_is_a_400_naming_the_field(client, payload, code, field):
    error = _error(
        client.post("/api/v1/verifications", payload, content_type="application/json"), 400
    )
    assert (error["code"], error["field"]) == (code, field)
    assert not Verification.objects.exists()


def test_an_empty_or_missing_file_is_refused(client):
    empty = client.post("/api/v1/verifications", {"file": SimpleUploadedFile("e.pdf", b"")})
    assert _error(empty, 400)["code"] == "empty_file"
    nothing = client.post("/api/v1/verifications", {"code": "x"})
    assert _error(nothing, 400)["code"] == "missing_file"
    assert not Verification.objects.exists()


def test_a_file_over_the_limit_is_refused_without_reading_it_all(client, settings):
    settings.VERIFY_MAX_FILE_SIZE = 3 * 1024 * 1024
    big = SimpleUploadedFile("big.bin", b"x" * (5 * 1024 * 1024))
    error = _error(client.post("/api/v1/verifications", {"file": big}), 413)
    assert error["code"] == "file_too_large"
    assert not Verification.objects.exists()


def test_wrong_content_type_and_broken_json(client):
    assert (
        _error(client.post("/api/v1/verifications", "x", content_type="text/plain"), 415)["code"]
        == "unsupported_media_type"
    )
    assert (
        _error(client.post("/api/v1/verifications", "{", content_type="application/json"), 400)[
            "code"
        ]
        == "parse_error"
    )


def test_an_unknown_verification_is_404(client):
    assert _error(client.get("/api/v1/verifications/nope"), 404)["code"] == "verification_not_found"
    assert _error(client.get("/api/v1/verifications/batch/nope"), 404)["code"] == "batch_not_found"


def test_batch_limits_and_item_errors(client, settings):
    settings.VERIFY_BATCH_MAX = 3
    too_many = client.post(
        "/api/v1/verifications/batch",
        {"items": [{"sha256": "ab" * 32}] * 4},
        content_type="application/json",
    )
    assert _error(too_many, 400)["code"] == "too_many_items"
    bad_item = client.post(
        "/api/v1/verifications/batch",
        {"items": [{"sha256": "ab" * 32}, {"sha256": "zz"}]},
        content_type="application/json",
    )
    assert _error(bad_item, 400)["field"] == "items.1.sha256"
    assert (
        _error(
            client.post("/api/v1/verifications/batch", {}, content_type="application/json"), 400
        )["code"]
        == "missing_items"
    )
    assert not Verification.objects.exists()

    ok = client.post(
        "/api/v1/verifications/batch",
        {"items": [{"sha256": "ab" * 32}, {"sm3": "cd" * 32}]},
        content_type="application/json",
    )
    assert ok.status_code == 202
    listed = client.get(ok["Location"]).json()
    assert [i["sha256"] for i in listed["items"]] == ["ab" * 32, None]
    assert listed["done"] is False


def test_clients_are_rate_limited_in_the_redis_cache(client, settings):
    from django.core.cache import cache

    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"verifications": "3/minute", "verification_batches": "1/hour"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    original = SimpleRateThrottle.THROTTLE_RATES
    # DRF binds the rates when its throttle class is defined; point it at the new ones.
    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        answers = [
            client.post(
                "/api/v1/verifications", {"sha256": "ab" * 32}, content_type="application/json"
            ).status_code
            for _ in range(4)
        ]
        assert answers == [202, 202, 202, 429]
        limited = client.post(
            "/api/v1/verifications", {"sha256": "ab" * 32}, content_type="application/json"
        )
        assert _error(limited, 429)["code"] == "throttled"
        assert 1 <= int(limited["Retry-After"]) <= 120  # at most two windows
        # The counter is in Redis: one integer per client and window, refusals not counted.
        keys = [k.decode() for k in cache._cache.get_client().keys("*throttle_verifications_*")]
        assert len(keys) == 1
        assert int(cache._cache.get_client().get(keys[0])) == 3
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
        cache.clear()


def test_the_rate_limit_is_a_sliding_window_counter(settings, monkeypatch):
    """previous * (1 - elapsed / period) + current <= limit, in the Redis cache."""
    from django.core.cache import cache
    from django.core.cache.backends.redis import RedisCacheClient
    from django.test import RequestFactory

    from plumbing.throttling import CountingRateThrottle

    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()
    cache.clear()

    def not_on_redis(*args, **kwargs):
        raise AssertionError("Redis counts in one pipeline, not with the cache's calls")

    for name in ("add", "incr", "get", "set", "decr"):
        monkeypatch.setattr(RedisCacheClient, name, not_on_redis, raising=False)
    now = [6000.0]  # the start of a 60 s window

    class Throttle(CountingRateThrottle):
        THROTTLE_RATES = {"verifications": "10/minute"}
        timer = staticmethod(lambda: now[0])

    class View:
        throttle_scope = "verifications"

    def attempt() -> tuple[bool, float | None]:
        throttle = Throttle()
        request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.7")
        request.user = None  # anonymous, as the API's UNAUTHENTICATED_USER
        allowed = throttle.allow_request(request, View())
        return allowed, None if allowed else throttle.wait()

    try:
        assert [attempt()[0] for _ in range(10)] == [True] * 10
        allowed, wait = attempt()
        assert not allowed and wait == 60.0 + 0.1 * 60  # next window, once 1 of 10 fits
        now[0] += 60 + 30  # half-way through the next window: the 10 weigh 5
        assert [attempt()[0] for _ in range(5)] == [True] * 5
        allowed, wait = attempt()
        assert not allowed and abs(wait - 6.0) < 1e-6  # 10 * (1 - 36/60) + 5 + 1 = 10
        now[0] += 6
        assert attempt()[0]
        now[0] += 120  # two windows on: the earlier ones no longer count
        assert [attempt()[0] for _ in range(10)] == [True] * 10
        assert not attempt()[0]
    finally:
        monkeypatch.undo()
        cache.clear()


@pytest.mark.parametrize("which", ["evidence", "judgment"])
def test_a_digest_checked_in_the_request_is_answered_from_memory(ledger, client, which):
    """Nothing saved is read back: steps from memory, no certificate look-up and no
    certificate job (its links render it on the first download), service events read once
    and only for a served document.
    The answer equals what a later GET reads from the database."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    record = getattr(ledger, which)
    with (
        mock.patch("verification.tasks.issue_certificate.apply_async") as queued,
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.post(
            "/api/v1/verifications", {"sha256": record.sha256}, content_type="application/json"
        )
    body = response.json()
    assert response.status_code == 202 and body["outcome"] == "verified"
    queued.assert_not_called()
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in queries if "SELECT" in q["sql"]]
    assert '"verification_verificationstep"' not in tables
    assert '"verification_certificate"' not in tables
    assert tables.count('"documents_serviceevent"') == (1 if which == "judgment" else 0)
    # The verification and its steps are written by one statement (atomic on its own).
    writes = [q["sql"] for q in queries if 'INSERT INTO "verification_verification' in q["sql"]]
    assert len(writes) == 1
    assert 'INSERT INTO "verification_verification" (' in writes[0]
    assert 'INSERT INTO "verification_verificationstep" (' in writes[0]
    if which == "judgment":
        assert [s["name"] for s in body["steps"]][-4:] == [
            "service:issued",
            "service:sent",
            "service:opened",
            "service:acknowledged",
        ]
    again = client.get(f"/api/v1/verifications/{body['id']}").json()
    assert {**again, "record": None} == {**body, "record": None}
    assert [e["event"] for e in again["record"]["timeline"]] == [
        e["event"] for e in body["record"]["timeline"]
    ]


def test_in_process_an_upload_answers_with_its_finished_result(ledger, client, settings):
    """The embedded default runs jobs in-process: the 202 already carries the outcome."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.post(
        "/api/v1/verifications", {"file": SimpleUploadedFile("chat.txt", ledger.evidence_bytes)}
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["outcome"]) == ("done", "verified")
    assert [s["name"] for s in body["steps"]][:2] == ["digest", "lookup"]
