"""Looking a record up on the ledger by its code, locally and over HTTP, and the pool's
malformed rows."""

import pytest
from django.test import Client

from anchoring import leaf, sequencer
from anchoring.backend import HttpBackend, LocalBackend
from anchoring.digest import digests
from anchoring.models import Alarm, Entry, Submission
from documents.models import Record
from documents.public import EVENTS
from verification.record_check import check_record

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_record_code_finds_its_registration_then_its_service_events(client, ledger):
    code = ledger.judgment.code
    answer = client.get("/api/v1/ledger/entries", {"record_code": code}).json()
    kinds = [entry["kind"] for entry in answer["entries"]]
    assert kinds == ["record"] + ["service_event"] * 4
    assert answer["entries"][0]["index"] == ledger.judgment.ledger_index
    assert client.get("/api/v1/ledger/entries", {"record_code": code.lower()}).json() == answer


@pytest.mark.parametrize("bad", ["", "V26-X", "字" * 5, "A" * 33])
def test_a_malformed_record_code_is_a_400(client, ledger, bad):
    response = client.get("/api/v1/ledger/entries", {"record_code": bad})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_record_code"


def test_the_http_backend_finds_what_the_local_one_does(live_server, ledger):
    code = ledger.judgment.code
    local = LocalBackend().entries_by_subject(code)
    remote = HttpBackend(live_server.url, timeout=5).entries_by_subject(code)
    assert remote == local and len(local) == 5
    check = check_record(ledger.judgment, HttpBackend(live_server.url, timeout=5))
    assert check.agrees and check.entry.index == ledger.judgment.ledger_index
    assert all(event.proven for event in check.events)


def test_a_malformed_pool_row_is_dropped_with_an_alarm_and_the_rest_integrated(settings):
    settings.LEDGER_SEQUENCER = "off"
    good = leaf.Leaf(leaf.Kind.ANCHOR, 1_767_225_600_000, *digests(b"good"))
    Submission.objects.create(data=b"\x09 not a leaf")
    sequencer.submit(good)
    assert sequencer.integrate() == 1
    assert list(Entry.objects.values_list("data", flat=True)) == [good.encode()]
    assert not Submission.objects.exists()
    alarm = Alarm.objects.get(source=Alarm.Source.SEQUENCER)
    assert "malformed" in alarm.message
    # Dropped, not corruption: the ledger goes on and /health says so.
    health = Client().get("/health").json()["integrity"]
    assert health["ok"] and "corrupted" not in health and health["open_alarms"] == 1


class _LookedUpEarlier(LocalBackend):
    """The ledger as a look-up by code saw it just before a batch committed: without its
    last entry, which entry(index) already finds."""

    def entries_by_subject(self, code):
        return super().entries_by_subject(code)[:-1]


def test_an_event_integrated_between_the_entries_and_the_rows_is_no_disagreement(ledger):
    record = Record.objects.get(pk=ledger.judgment.pk)  # rows read after the batch
    check = check_record(record, _LookedUpEarlier())
    assert check.agrees, check.problems()
    assert len(check.events) == 4 and all(event.proven for event in check.events)


def test_an_event_recorded_after_its_rows_were_read_is_no_disagreement(ledger):
    record = Record.objects.prefetch_related(EVENTS).get(pk=ledger.judgment.pk)
    newest = max(record.events.all(), key=lambda e: e.ledger_index)
    record._prefetched_objects_cache["events"] = [  # as read before it was recorded
        e for e in record.events.all() if e.pk != newest.pk
    ]
    check = check_record(record, LocalBackend())
    assert check.agrees, check.problems()
    assert len(check.events) == 4 and all(event.proven for event in check.events)


def test_an_event_row_naming_an_entry_the_ledger_lacks_is_still_a_disagreement(ledger):
    record = Record.objects.get(pk=ledger.judgment.pk)
    event = record.events.order_by("ledger_index").last()
    entry, event.ledger_index = event.ledger_index, 10**6
    event.save()
    check = check_record(Record.objects.get(pk=record.pk), LocalBackend())
    assert not check.agrees
    assert check.problems() == [
        f"service event row {event.pk} differs from entry {entry}: ledger_index"
    ]
