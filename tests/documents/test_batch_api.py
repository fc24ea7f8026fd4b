"""POST /api/v1/records/batch: many records by their digests in one request, all or nothing."""

import hashlib

import pytest

from anchoring.leaf import Kind, decode
from anchoring.models import Entry, Submission
from documents import codes, entries, ledger
from documents.models import Record
from tests.documents.test_records_api import _error_of, _verify_ledger

URL = "/api/v1/records/batch"


def _item(n: int, **changes) -> dict:
    item = {
        "sha256": hashlib.sha256(b"%d" % n).hexdigest(),
        "sm3": hashlib.sha256(b"sm3 %d" % n).hexdigest(),
        "category": "evidence",
        "title": f"证据 {n}",
        "case_number": "（2026）京0105民初7号",
        "parties": ["张三", "李四"],
    }
    item.update(changes)
    return item


def test_a_batch_is_recorded_and_each_record_gets_its_own_receipt(owner, court):
    items = [_item(n) for n in range(3)] + [_item(3, category="mediation", parties=[])]
    response = owner.post(URL, {"records": items}, format="json")
    assert response.status_code == 201, response.content
    answers = response.json()["records"]
    assert len(answers) == 4 and len({a["code"] for a in answers}) == 4
    for item, answer in zip(items, answers, strict=True):
        # The same object as the single endpoint answers.
        single_keys = {"code", "verification_url", "qr_png", "qr_svg", "court", "category"}
        assert single_keys <= answer.keys() and answer["events"] == []
        assert answer["court"]["code"] == "BJ0105"
        assert (answer["sha256"], answer["sm3"]) == (item["sha256"], item["sm3"])
        assert (answer["title"], answer["parties"]) == (item["title"], item["parties"])
        entry = _verify_ledger(answer["ledger"], item["sha256"])
        record = Record.objects.get(code=codes.normalize(answer["code"]))
        assert record.ledger_index == answer["ledger"]["index"] == entry.index
        leaf = decode(bytes(entry.data))
        assert leaf.kind == Kind.RECORD
        assert dict(leaf.fields)[entries.RECORD_CODE] == record.code.encode()
        assert bytes(entry.data) == _rebuilt_leaf(record)
    # The read side agrees with the batch's answer.
    again = owner.get(f"/api/v1/records/{answers[0]['code']}").json()
    assert again["ledger"]["index"] == answers[0]["ledger"]["index"]


def _rebuilt_leaf(record: Record) -> bytes:
    return entries.record_leaf(
        category=ledger.CATEGORY_NUMBERS[record.category],
        court=record.court.code,
        code=record.code,
        sha256=bytes.fromhex(record.sha256),
        sm3=bytes.fromhex(record.sm3),
        metadata_digest=entries.salted_digest(bytes(record.metadata_salt), ledger.metadata(record)),
        timestamp_ms=int(record.recorded_at.timestamp() * 1000),
    ).encode()


def test_permissions(anonymous, revoked, outsider, court):
    missing = anonymous.post(URL, {"records": [_item(0)]}, format="json")
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == "Token"
    assert missing.json()["error"]["code"] == "not_authenticated"
    refused = revoked.post(URL, {"records": [_item(0)]}, format="json")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"
    assert not Record.objects.exists() and not Submission.objects.exists()
    # Another court's token (there is no "other court's record" to reach here: 404 does
    # not apply) records for its own court only.
    made = outsider.post(URL, {"records": [_item(0)]}, format="json")
    assert made.status_code == 201
    assert made.json()["records"][0]["court"]["code"] == "SH0101"
    assert list(Record.objects.values_list("court__code", flat=True)) == ["SH0101"]


@pytest.mark.parametrize(
    "bad, field, code",
    [
        (_item(1, sha256="zz"), "records.1.sha256", "malformed_digest"),
        ({k: v for k, v in _item(1).items() if k != "sm3"}, "records.1.sm3", "missing_content"),
        ({k: v for k, v in _item(1).items() if k != "title"}, "records.1.title", "required"),
        (_item(1, title="长" * 301), "records.1.title", "too_long"),
        (_item(1, category="verdict"), "records.1.category", "invalid_choice"),
        (_item(1, parties=["x" * 101]), "records.1.parties.0", "too_long"),
        (_item(1, stamp=True), "records.1.stamp", "stamp_needs_file"),
        ("not an object", "records.1", "invalid_item"),
    ],
)
def test_a_bad_item_refuses_the_whole_batch_naming_it(owner, bad, field, code):
    response = owner.post(URL, {"records": [_item(0), bad, _item(2)]}, format="json")
    error = _error_of(response, 400)
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]["zh"] and error["message"]["en"]
    assert not Record.objects.exists()
    assert not Submission.objects.exists() and not Entry.objects.exists()


def test_the_batch_itself_must_be_a_list_within_the_limit(owner, settings):
    settings.COURT_BATCH_MAX = 2
    for body, code in [
        ({}, "missing_records"),
        ({"records": []}, "missing_records"),
        ({"records": "x"}, "missing_records"),
        ({"records": [_item(n) for n in range(3)]}, "too_many_records"),
    ]:
        error = _error_of(owner.post(URL, body, format="json"), 400)
        assert (error["field"], error["code"]) == ("records", code)
    assert _error_of(owner.post(URL, "[1]", content_type="application/json"), 400)
    assert not Record.objects.exists() and not Submission.objects.exists()


def test_a_retried_batch_gets_the_first_answer_and_records_nothing_twice(owner):
    body = {"records": [_item(n) for n in range(3)]}
    first = owner.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    second = owner.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Record.objects.count() == 3 and Entry.objects.count() == 3
    body["records"][2]["title"] = "changed"
    reused = owner.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert _error_of(reused, 422)["code"] == "idempotency_key_reused"
    assert Record.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_ledger_delay_answers_for_the_same_records(settings):
    """The ledger is slow: 503 with every code; the retry answers for those records."""
    from rest_framework.test import APIClient

    from anchoring import sequencer
    from documents.models import Court, CourtToken

    settings.LEDGER_SEQUENCER = "off"  # nothing integrates until the test says so
    settings.LEDGER_SUBMIT_TIMEOUT = 0.2
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {CourtToken.issue(court)[1]}")
    body = {"records": [_item(n) for n in range(2)]}

    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    error = _error_of(first, 503)
    assert error["code"] == "ledger_delayed" and len(error["record_codes"]) == 2

    sequencer.integrate()
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    assert again.status_code == 201, again.content
    assert [r["code"] for r in again.json()["records"]] == error["record_codes"]
    assert Record.objects.count() == 2 and Entry.objects.count() == 2
