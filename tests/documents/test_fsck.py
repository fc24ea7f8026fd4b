"""ledger_fsck on the court side: each record and service event row against its entry."""

import datetime

import pytest
from django.db import connection

from anchoring.leaf import decode
from anchoring.models import Entry, Submission
from documents.models import Addressee, Court, Record, ServiceEvent
from tests.anchoring.test_fsck import fsck, lines_about


def record_row(record: Record) -> str:
    return f"documents_record id {record.pk} (code {record.code})"


def event_row(event: ServiceEvent) -> str:
    return f"documents_serviceevent id {event.pk} (record {event.record.code}, {event.event})"


def only(lines: list[str]) -> list[str]:
    """The discrepancy lines, without the summary."""
    assert lines[-1].startswith("ledger_fsck: checked"), lines
    return lines[:-1]


def test_a_clean_court_ledger_exits_0(ledger):
    code, lines = fsck()
    assert code == 0, lines
    assert len(lines) == 1
    assert "2 records, 4 service events" in lines[0]
    assert lines[0].endswith(": clean")


@pytest.mark.parametrize(
    ("change", "label", "expected", "found"),
    [
        ({"title": "伪造的判决书"}, "metadata (title, case number, parties", None, None),
        (
            {"case_number": "（2026）京0105民初99999号"},
            "metadata (title, case number, parties",
            None,
            None,
        ),
        ({"parties": ["张三", "王五"]}, "metadata (title, case number, parties", None, None),
        ({"category": "evidence"}, "category", "litigation_document", "evidence"),
        ({"sha256": "ab" * 32}, "sha256", None, "ab" * 32),
        (
            {"recorded_at": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)},
            "recorded_at",
            None,
            "2020-01-01T00:00:00.000+00:00",
        ),
    ],
    ids=["title", "case_number", "parties", "category", "sha256", "recorded_at"],
)
def test_a_changed_record_field_is_named(ledger, change, label, expected, found):
    Record.objects.filter(pk=ledger.judgment.pk).update(**change)
    code, lines = fsck()
    assert code == 1
    about = lines_about(lines, record_row(ledger.judgment))
    assert len(about) == 1, lines
    assert f"its {label}" in about[0]
    assert f"is not what ledger entry {ledger.judgment.ledger_index} commits to" in about[0]
    if expected:
        assert f"expected {expected}," in about[0]
    if found:
        assert f"found {found})" in about[0]


def test_a_record_moved_to_another_court_is_named(ledger):
    other = Court.objects.create(code="SH0101", name_zh="上海法院", name_en="Shanghai")
    Record.objects.filter(pk=ledger.evidence.pk).update(court=other)
    code, lines = fsck()
    assert code == 1
    [line] = only(lines)
    assert line.startswith(record_row(ledger.evidence) + ": its court is not what ledger entry")
    assert line.endswith("(expected BJ0105, found SH0101)")


def test_a_changed_ledger_index_is_named(ledger):
    registered = ledger.evidence.ledger_index
    Record.objects.filter(pk=ledger.evidence.pk).update(ledger_index=registered + 1000)
    code, lines = fsck()
    assert code == 1
    [line] = only(lines)
    assert line == (
        f"{record_row(ledger.evidence)}: its ledger_index column is not the index of its "
        f"registration entry (expected {registered}, found {registered + 1000})"
    )


def test_a_record_without_entry_and_an_entry_without_record(ledger):
    """A record code changed in the row: the row has no entry, the entry has no row."""
    Record.objects.filter(pk=ledger.evidence.pk).update(code="FAKECODE0000000000")
    code, lines = fsck()
    assert code == 1
    renamed = Record.objects.get(pk=ledger.evidence.pk)
    [row] = lines_about(lines, record_row(renamed))
    assert "it has no registration entry: no RECORD entry names its code" in row
    [entry] = lines_about(lines, f"anchoring_entry index {ledger.evidence.ledger_index}")
    assert f"it registers record code {ledger.evidence.code}, but no record has that code" in entry


def test_a_record_still_pooled_is_not_a_discrepancy_until_it_leaves_the_pool(ledger):
    from anchoring import sequencer

    with connection.cursor() as cursor:  # the sequencer waits: the submission stays pooled
        cursor.execute("SELECT pg_advisory_lock(%s)", [sequencer._ADVISORY_LOCK_ID])
    try:
        submission = Submission.objects.create(data=b"waiting for its batch")
        pooled = Record.objects.create(
            code="POOLED000000000000",
            court=ledger.court,
            category=Record.Category.EVIDENCE,
            title="pending",
            sha256="00" * 32,
            sm3="00" * 32,
            metadata_salt=bytes(16),
            recorded_at=ledger.evidence.recorded_at,
            submission=submission.pk,
        )
        code, lines = fsck()
        assert code == 0, lines
        assert "1 still pooled" in lines[-1]
        Submission.objects.filter(pk=submission.pk).delete()
        code, lines = fsck()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [sequencer._ADVISORY_LOCK_ID])
    assert code == 1
    [line] = only(lines)
    assert line == (
        f"{record_row(pooled)}: it has no registration entry: no RECORD entry names its code, "
        "and its submission is not pooled (expected a RECORD entry, found empty)"
    )


def test_a_later_record_entry_reusing_a_code_is_named(ledger):
    from anchoring import sequencer

    first = decode(bytes(Entry.objects.get(index=ledger.evidence.ledger_index).data))
    receipt = sequencer.submit_and_wait(first)
    code, lines = fsck()
    assert code == 1
    [line] = only(lines)
    assert line == (
        f"anchoring_entry index {receipt.index}: it registers record code "
        f"{ledger.evidence.code} again, first registered by entry "
        f"{ledger.evidence.ledger_index}; a record code is registered once"
    )


def _event(ledger, kind: str) -> ServiceEvent:
    return ledger.judgment.events.get(event=kind)


@pytest.mark.parametrize(
    ("change", "label", "expected", "found"),
    [
        (
            {"occurred_at": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)},
            "occurred_at",
            None,
            "2020-01-01T00:00:00.000+00:00",
        ),
        ({"channel": "post"}, "channel", "sms", "post"),
        ({"event": "opened"}, "event", "sent", "opened"),
        ({"details": {"note": "changed"}}, "details", None, None),
    ],
    ids=["occurred_at", "channel", "event", "details"],
)
def test_a_changed_service_event_field_is_named(ledger, change, label, expected, found):
    event = _event(ledger, "sent")
    ServiceEvent.objects.filter(pk=event.pk).update(**change)
    event.refresh_from_db()
    code, lines = fsck()
    assert code == 1
    [line] = only(lines)
    assert line.startswith(f"{event_row(event)}: its {label}"), line
    assert f"is not what ledger entry {event.ledger_index} commits to" in line
    if expected:
        assert f"expected {expected}," in line
    if found:
        assert f"found {found})" in line


def test_a_renamed_addressee_shows_on_each_of_their_events(ledger):
    event = _event(ledger, "sent")
    Addressee.objects.filter(pk=event.addressee_id).update(name="王五")
    code, lines = fsck()
    assert code == 1
    events = ServiceEvent.objects.filter(addressee=event.addressee_id).order_by("pk")
    assert len(events) == 3  # sent, opened, acknowledged
    for row in events:
        [line] = lines_about(lines, event_row(row))
        assert "its addressee's name or contact (salted digest) is not what" in line
    assert len(only(lines)) == 3


def test_a_deleted_event_row_leaves_its_entry_without_row(ledger):
    event = _event(ledger, "issued")
    ServiceEvent.objects.filter(pk=event.pk).delete()
    code, lines = fsck()
    assert code == 1
    [line] = only(lines)
    assert line == (
        f"anchoring_entry index {event.ledger_index}: it is a service event of record "
        f"{ledger.judgment.code}, but no service event row has ledger_index {event.ledger_index}"
    )


def test_a_fake_event_row_has_no_entry(ledger):
    real = _event(ledger, "issued")
    fake = ServiceEvent.objects.create(
        record=ledger.judgment,
        event=ServiceEvent.Event.ACKNOWLEDGED,
        details={},
        details_salt=bytes(16),
        occurred_at=real.occurred_at,
        recorded_at=real.recorded_at,
        submission=10**12,
    )
    code, lines = fsck()
    assert code == 1
    [line] = only(lines)
    assert line.startswith(
        f"{event_row(fake)}: it has no ledger entry: its ledger_index is empty and its "
        "submission is not pooled"
    )


def test_an_event_row_pointing_at_the_record_entry_is_named(ledger):
    event = _event(ledger, "opened")
    original = event.ledger_index
    ServiceEvent.objects.filter(pk=event.pk).update(ledger_index=10**9)
    code, lines = fsck()
    assert code == 1
    assert lines_about(lines, event_row(event)) == [
        f"{event_row(event)}: its ledger_index names entry {10**9}, which the log does not have"
    ]
    # ... and its real entry is claimed by no row.
    assert lines_about(lines, f"anchoring_entry index {original}")


def test_a_record_whose_registration_entry_was_altered(ledger):
    """An attacker with database access changes the entry instead of the row: the ledger
    half names the entry, the court half the row that no longer matches it."""
    index = ledger.evidence.ledger_index
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE anchoring_entry DISABLE TRIGGER anchoring_entry_append_only")
        # Byte 2..9 is the leaf's time: move it by one millisecond.
        cursor.execute(
            "UPDATE anchoring_entry SET data = set_byte(data, 9, get_byte(data, 9) # 1) "
            'WHERE "index" = %s',
            [index],
        )
        cursor.execute("ALTER TABLE anchoring_entry ENABLE TRIGGER anchoring_entry_append_only")
    code, lines = fsck()
    assert code == 1
    assert lines_about(lines, record_row(ledger.evidence))
    assert any(line.startswith("anchoring_checkpoint tree_size") for line in lines)


def test_the_periodic_task_raises_alarms_and_turns_health_unhealthy(ledger, client, settings):
    from anchoring.models import Alarm, FsckRun
    from verification.tasks import ledger_fsck

    assert settings.CELERY_BEAT_SCHEDULE["ledger-fsck"]["task"] == "verification.tasks.ledger_fsck"
    assert ledger_fsck() == 0
    assert client.get("/health").json()["integrity"]["last_fsck"]["clean"] is True
    Record.objects.filter(pk=ledger.judgment.pk).update(title="伪造的判决书")
    assert ledger_fsck() == 1
    [alarm] = Alarm.objects.filter(source=Alarm.Source.FSCK)
    assert alarm.subject == f"record {ledger.judgment.code}"
    assert alarm.first_bad_index == ledger.judgment.ledger_index
    assert FsckRun.objects.latest().discrepancies == 1
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["integrity"]["last_fsck"]["discrepancies"] == 1
