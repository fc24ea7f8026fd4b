"""The six reproductions of issue 13: forged data is never shown as verified.

Each changes the portal's database as an attacker with write access would, then asks the
portal through its API and pages: the answer is never "verified" with the forged value,
and the operator is alerted.
"""

import hashlib
import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from anchoring import leaf, sequencer
from anchoring.digest import digests
from anchoring.models import Alarm, Checkpoint, Entry, Submission
from documents import codes, entries
from documents.ledger import expected_leaf
from documents.models import Court, CourtToken, Record, ServiceEvent
from tests.court_ledger import sha
from tests.tampering.conftest import open_alarms

pytestmark = pytest.mark.django_db(transaction=True)

FORGED = "伪造的文件 a forged file".encode() * 20


def _verify(client: Client, **payload) -> dict:
    response = client.post("/api/v1/verifications", payload, content_type="application/json")
    assert response.status_code in (200, 201, 202), response.content
    return response.json()


def _page(client: Client, code: str) -> str:
    response = client.get(f"/v/{codes.display(code)}")
    assert response.status_code == 200
    return response.content.decode()


def _forged_record_leaf(record: Record, content: bytes) -> bytes:
    """A record leaf naming an existing record's code, court and category, another file."""
    genuine = leaf.decode(bytes(Entry.objects.get(index=record.ledger_index).data))
    sha256, sm3 = digests(content)
    return leaf.Leaf(
        leaf.Kind.RECORD, genuine.timestamp_ms + 1, sha256, sm3, genuine.fields
    ).encode()


def test_1_a_pool_row_reusing_a_record_code_never_verifies_another_file(ledger, tamper):
    Submission.objects.create(data=_forged_record_leaf(ledger.evidence, FORGED))
    forged = _wait_for_entry(sha(FORGED))

    client = Client()
    answer = _verify(client, sha256=sha(FORGED))
    assert answer["outcome"] == "conflict"
    assert answer["outcome"] != "verified"
    assert any(s["name"] == "ledger_agreement" and s["status"] == "failed" for s in answer["steps"])
    # The genuine file still verifies: its record's registration entry is the first.
    assert _verify(client, sha256=sha(ledger.evidence_bytes))["outcome"] == "conflict"
    page = _page(client, ledger.evidence.code)
    assert 'data-ledger="conflict"' in page
    alarm = open_alarms(Alarm.Source.VERIFICATION)[0]
    assert f"entry {forged} reuses the record code" in alarm.message


def _wait_for_entry(sha256_hex: str, timeout: float = 10) -> int:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Entry.objects.filter(sha256=bytes.fromhex(sha256_hex)).first()
        if found and found.index < Checkpoint.objects.order_by("-tree_size").first().tree_size:
            return found.index
        time.sleep(0.05)
    raise AssertionError("the forged entry was never integrated")


@pytest.fixture
def court_without_sequencer(settings, transactional_db, tmp_path):
    """A court and its API token; nothing integrates unless the test calls integrate()."""
    settings.LEDGER_SEQUENCER = "off"
    settings.MEDIA_ROOT = tmp_path / "media"
    court = Court.objects.create(code="SH0101", name_zh="上海市黄浦区人民法院", name_en="Huangpu")
    _, token = CourtToken.issue(court)
    return court, token


def test_2_a_pool_row_rewritten_before_its_batch_gets_no_receipt(court_without_sequencer):
    court, token = court_without_sequencer
    genuine = "调解协议 mediation agreement".encode()
    answers = {}

    def post():
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        answers["response"] = client.post(
            "/api/v1/records",
            {
                "category": "mediation",
                "title": "调解协议",
                "sha256": sha(genuine),
                "sm3": digests(genuine)[1].hex(),
            },
            content_type="application/json",
        )
        connection.close()

    thread = threading.Thread(target=post)
    thread.start()
    for _ in range(200):
        pooled = Submission.objects.first()
        if pooled:
            break
        threading.Event().wait(0.05)
    assert pooled is not None, "the court's record was never pooled"
    data = bytearray(pooled.data)
    forged_sha, forged_sm = digests(FORGED)
    data[10:42], data[42:74] = forged_sha, forged_sm  # the leaf's SHA-256 and SM3
    Submission.objects.filter(pk=pooled.pk).update(data=bytes(data))
    sequencer.integrate()
    thread.join(timeout=60)

    response = answers["response"]
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "ledger_entry_altered"
    assert open_alarms(Alarm.Source.SUBMITTER)
    record = Record.objects.get()
    client = Client()
    assert _verify(client, sha256=sha(genuine))["outcome"] == "not_found"
    assert _verify(client, sha256=sha(FORGED))["outcome"] == "conflict"
    by_code = client.post(
        "/api/v1/verifications",
        {"code": codes.display(record.code), "sha256": sha(genuine)},
        content_type="application/json",
    ).json()
    assert by_code["outcome"] == "conflict"


def test_3_an_altered_last_entry_stops_the_sequencer_and_never_verifies(
    court_without_sequencer, tamper
):
    for i in range(3):
        sequencer.submit(leaf.Leaf(leaf.Kind.ANCHOR, 1_767_225_600_000 + i, *digests(b"%d" % i)))
        sequencer.integrate()
    last = Entry.objects.order_by("-index").first()
    signed = Checkpoint.objects.count()
    forged_sha, forged_sm = digests(FORGED)
    data = bytearray(last.data)
    data[10:42], data[42:74] = forged_sha, forged_sm
    tamper(
        'UPDATE anchoring_entry SET data = %s, sha256 = %s, sm3 = %s WHERE "index" = %s',
        [bytes(data), forged_sha, forged_sm, last.index],
    )
    sequencer.submit(leaf.Leaf(leaf.Kind.ANCHOR, 1_767_225_700_000, *digests(b"next")))
    with pytest.raises(sequencer.LedgerCorrupted):
        sequencer.integrate()
    assert Checkpoint.objects.count() == signed  # nothing signed over the altered edge
    alarm = open_alarms(Alarm.Source.SEQUENCER)[0]
    assert alarm.first_bad_index == last.index
    health = Client().get("/health")
    assert health.status_code == 503
    assert health.json()["integrity"]["corrupted"]["first_bad_index"] == last.index
    assert _verify(Client(), sha256=forged_sha.hex())["outcome"] != "verified"


@pytest.mark.parametrize(
    "column, value",
    [
        ("title", "'伪造的判决书'"),
        ("case_number", "'（2026）京0105民初99999号'"),
        ("parties", """'["王五", "赵六"]'::jsonb"""),
        ("category", "'evidence'"),
        ("court_id", "(SELECT id FROM documents_court WHERE code = 'FAKE01')"),
    ],
)
def test_4_changed_record_rows_are_a_conflict_showing_no_forged_value(
    ledger, tamper, column, value
):
    Court.objects.create(code="FAKE01", name_zh="伪造法院", name_en="Forged court")
    tamper(f"UPDATE documents_record SET {column} = {value} WHERE id = %s", [ledger.judgment.pk])
    client = Client()
    for answer in (
        _verify(client, sha256=sha(ledger.judgment_pdf)),
        _verify(client, code=codes.display(ledger.judgment.code), sha256=sha(ledger.judgment_pdf)),
    ):
        assert answer["outcome"] == "conflict"
        shown = str(answer["record"])
        for forged in ("伪造的判决书", "99999", "王", "伪造法院"):
            assert forged not in shown
    page = _page(client, ledger.judgment.code)
    assert 'data-ledger="conflict"' in page
    assert "伪造的判决书" not in page and "伪造法院" not in page
    assert open_alarms(Alarm.Source.VERIFICATION)


def test_4_a_swapped_stored_original_is_never_served(ledger):
    record = ledger.judgment
    with open(record.file.path, "wb") as stored:
        stored.write(b"%PDF-1.7 another document")
    response = Client().get(f"/v/{codes.display(record.code)}/file")
    assert response.status_code == 409
    assert "不一致" in response.content.decode()
    assert open_alarms(Alarm.Source.DOWNLOAD)
    report = io.StringIO()
    with pytest.raises(SystemExit) as exit_code:
        call_command("ledger_fsck", stdout=report)
    assert exit_code.value.code == 1
    assert "its stored file" in report.getvalue()


def test_an_original_swapped_after_its_check_is_still_not_served(ledger, monkeypatch):
    """What is served is the copy that was hashed, not the stored file read again."""
    from documents import ledger as kept

    record, checked = ledger.judgment, kept.stored_sha256

    def swap_after_hashing(row, copy_to=None):
        digest = checked(row, copy_to)
        with open(row.file.path, "wb") as stored:
            stored.write(b"%PDF-1.7 another document")
        return digest

    monkeypatch.setattr(kept, "stored_sha256", swap_after_hashing)
    response = Client().get(f"/v/{codes.display(record.code)}/file")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == ledger.judgment_pdf


def _event(ledger, event: str) -> ServiceEvent:
    return ledger.judgment.events.get(event=event)


@pytest.mark.parametrize(
    "change",
    ["moved three days", "channel", "addressee renamed", "acknowledged deleted", "fake sent"],
)
def test_5_changed_service_events_are_never_shown_as_proven(ledger, tamper, change):
    sent = _event(ledger, "sent")
    if change == "moved three days":
        ServiceEvent.objects.filter(pk=sent.pk).update(
            occurred_at=sent.occurred_at + timedelta(days=3)
        )
    elif change == "channel":
        ServiceEvent.objects.filter(pk=sent.pk).update(channel="post")
    elif change == "addressee renamed":
        sent.addressee.__class__.objects.filter(pk=sent.addressee.pk).update(name="王五")
    elif change == "acknowledged deleted":
        _event(ledger, "acknowledged").delete()
    else:
        ServiceEvent.objects.create(
            record=ledger.judgment,
            event="sent",
            channel="email",
            addressee=sent.addressee,
            details_salt=b"\0" * 16,
            occurred_at=sent.occurred_at,
            recorded_at=sent.recorded_at - timedelta(hours=1),
            submission=-1,
        )
    client = Client()
    answer = _verify(client, sha256=sha(ledger.judgment_pdf))
    assert answer["outcome"] == "conflict"
    timeline = answer["record"]["timeline"]
    assert all(item["proven"] is False for item in timeline if item["ledger_index"] is None)
    proven = [item for item in timeline if item["proven"]]
    assert "王" not in str(proven) and "post" not in str(proven) and "email" not in str(proven)
    page = _page(client, ledger.judgment.code)
    assert 'data-ledger="conflict"' in page
    assert open_alarms(Alarm.Source.VERIFICATION)


def test_pages_and_answers_show_the_ledger_agrees_on_an_untouched_record(ledger):
    client = Client()
    answer = _verify(client, sha256=sha(ledger.judgment_pdf))
    assert answer["outcome"] == "verified"
    assert answer["record"]["ledger_agrees"] is True
    assert all(item["proven"] for item in answer["record"]["timeline"])
    assert 'data-ledger="agrees"' in _page(client, ledger.judgment.code)
    assert not open_alarms()
    download = client.get(f"/v/{codes.display(ledger.judgment.code)}/file")
    assert b"".join(download.streaming_content) == ledger.judgment_pdf
    assert hashlib.sha256(ledger.judgment_pdf).hexdigest() == answer["record"]["sha256"]
    assert entries.RECORD_CODE == leaf.SUBJECT_TAG
    assert expected_leaf(ledger.judgment) == bytes(
        Entry.objects.get(index=ledger.judgment.ledger_index).data
    )


def test_an_entry_moved_beyond_the_signed_tree_is_never_verified(ledger, tamper):
    index = Entry.objects.get(sha256=bytes.fromhex(sha(ledger.anchored))).index
    tamper('UPDATE anchoring_entry SET "index" = "index" + 1000000 WHERE "index" = %s', [index])
    answer = _verify(Client(), sha256=sha(ledger.anchored))
    assert answer["outcome"] == "inconclusive"
    assert {s["name"]: s["status"] for s in answer["steps"]}["inclusion"] == "failed"
