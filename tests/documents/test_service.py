"""Service (送达): the court records issued and sent; the addressee's link records opened
and acknowledged; every step is its own ledger entry with a proof."""

import pytest

from anchoring.leaf import Kind, decode
from anchoring.models import Entry
from documents import entries
from documents.ledger import await_ledger
from documents.models import ServiceEvent
from tests.documents.conftest import upload
from tests.receipts import verify_ledger


@pytest.fixture
def judgment(owner, judgment_pdf):
    return owner.post(
        "/api/v1/records",
        {
            "file": upload(judgment_pdf),
            "category": "litigation_document",
            "title": "民事判决书",
            "case_number": "（2026）京0105民初1号",
            "stamp": "true",
        },
        format="multipart",
    ).json()


def _event(owner, code, **payload):
    return owner.post(f"/api/v1/records/{code}/events", payload, format="json")


def _proves(ledger: dict) -> Entry:
    verify_ledger(ledger)
    return Entry.objects.get(index=ledger["index"])


def test_the_whole_service_timeline_is_provable(owner, client, judgment):
    code = judgment["code"]
    issued = _event(owner, code, event="issued")
    assert issued.status_code == 201, issued.content
    sent = _event(owner, code, event="sent", channel="sms", addressee="李四", contact="13800000000")
    assert sent.status_code == 201, sent.content
    link = sent.json()["service_link"]
    path = link.removeprefix("http://127.0.0.1:8000")

    # The landing page changes nothing: link previews must not count as "opened".
    page = client.get(path)
    assert page.status_code == 200
    assert "民事判决书" in page.content.decode()
    assert "请先打开文书" in page.content.decode()
    assert not ServiceEvent.objects.filter(event="opened").exists()

    document = client.get(path + "/document")
    assert document.status_code == 200
    assert b"".join(document.streaming_content).startswith(b"%PDF-")
    client.get(path + "/document")  # opening twice records it once
    assert ServiceEvent.objects.filter(event="opened").count() == 1

    confirm = client.post(path + "/acknowledge")
    assert confirm.status_code == 302
    chinese = client.get(path).content.decode()
    assert "您已确认签收" in chinese
    assert "李四，您好。" in chinese and " · 短信 · 李四" in chinese and "SMS" not in chinese
    english = client.get(path, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "You have acknowledged receipt" in english and "<h1>Served document</h1>" in english
    assert " · Sent · SMS · 李四" in english and "已送出" not in english and "您" not in english
    client.post(path + "/acknowledge")
    assert ServiceEvent.objects.filter(event="acknowledged").count() == 1

    # "opened" and "acknowledged" do not hold the addressee's page: wait for their batch.
    for event in ServiceEvent.objects.all():
        await_ledger(event)
    record = owner.get(f"/api/v1/records/{code}").json()
    assert [e["event"] for e in record["events"]] == ["issued", "sent", "opened", "acknowledged"]
    record_entry = _proves(record["ledger"])
    for event, number in zip(record["events"], entries.EventType, strict=True):
        entry = _proves(event["ledger"])
        leaf = decode(bytes(entry.data))
        fields = dict(leaf.fields)
        assert leaf.kind == Kind.SERVICE_EVENT
        assert fields[entries.EVENT_TYPE] == bytes([number])
        assert int.from_bytes(fields[entries.EVENT_RECORD_INDEX]) == record_entry.index
        # The event carries the document's digests, so a digest look-up finds it.
        assert leaf.sha256.hex() == judgment["sha256"]
        assert "李四".encode() not in bytes(entry.data)
    ack = ServiceEvent.objects.get(event="acknowledged")
    assert "李四 确认于" in ack.details["receipt"]


def test_the_same_addressee_keeps_one_link(owner, judgment):
    _event(owner, judgment["code"], event="issued")
    first = _event(owner, judgment["code"], event="sent", channel="sms", addressee="李四")
    again = _event(owner, judgment["code"], event="sent", channel="post", addressee="李四")
    assert first.json()["service_link"] == again.json()["service_link"]


@pytest.mark.parametrize(
    "payload, field, code",
    [
        ({"event": "opened"}, "event", "portal_only"),
        ({"event": "acknowledged"}, "event", "portal_only"),
        ({"event": "delivered"}, "event", "invalid_choice"),
        ({"event": "sent", "channel": "sms", "addressee": "李四"}, "event", "out_of_order"),
        ({}, "event", "required"),
    ],
)
def test_events_the_court_cannot_record(owner, judgment, payload, field, code):
    response = _event(owner, judgment["code"], **payload)
    assert response.status_code == 400, response.content
    assert (response.json()["error"]["field"], response.json()["error"]["code"]) == (field, code)
    assert not ServiceEvent.objects.exists()


def test_sent_needs_a_channel_and_an_addressee(owner, judgment):
    _event(owner, judgment["code"], event="issued")
    no_channel = _event(owner, judgment["code"], event="sent", addressee="李四")
    assert no_channel.json()["error"]["field"] == "channel"
    no_one = _event(owner, judgment["code"], event="sent", channel="sms")
    assert no_one.json()["error"]["field"] == "addressee"
    assert ServiceEvent.objects.count() == 1


def test_issued_only_once_and_only_for_litigation_documents(owner, judgment):
    assert _event(owner, judgment["code"], event="issued").status_code == 201
    twice = _event(owner, judgment["code"], event="issued")
    assert twice.json()["error"]["code"] == "already_recorded"
    evidence = owner.post(
        "/api/v1/records",
        {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "evidence", "title": "t"},
        format="json",
    ).json()
    refused = _event(owner, evidence["code"], event="issued")
    assert refused.json()["error"]["code"] == "not_served"


def test_an_event_time_in_the_future_is_refused(owner, judgment):
    response = _event(owner, judgment["code"], event="issued", occurred_at="2099-01-01T00:00:00Z")
    assert response.json()["error"]["field"] == "occurred_at"


def test_unknown_service_link_is_404(client, court):
    assert client.get("/s/not-a-real-link").status_code == 404
    assert client.post("/s/not-a-real-link/acknowledge").status_code == 404
