"""A court row's link to the ledger: the leaf a record or service event row commits to,
waiting for its entry, and its index.

The ledger, not the database, is the truth: a row is believed only where the leaf rebuilt
from it is byte for byte the ledger entry. Registration builds the leaves it submits with
these functions, submitters compare their entry with them (await_ledger), and
verification and ledger_fsck use them to find every row that disagrees with its entry.
"""

from __future__ import annotations

import hashlib
from typing import IO

from django.db.models import OuterRef, Subquery

from anchoring import sequencer
from anchoring.leaf import Leaf
from anchoring.sequencer import Receipt
from documents import entries
from documents.models import Record, ServiceEvent

CATEGORY_NUMBERS = {c.value: entries.Category[c.name] for c in Record.Category}
EVENT_NUMBERS = {e.value: entries.EventType[e.name] for e in ServiceEvent.Event}
CHANNEL_NUMBERS = {c.value: entries.Channel[c.name] for c in ServiceEvent.Channel}


def milliseconds(moment) -> int:
    """A time as written in a leaf: whole milliseconds since the epoch."""
    return int(moment.timestamp() * 1000)


def metadata(record: Record) -> dict:
    """What the record leaf's salted metadata digest commits to."""
    return {
        "title": record.title,
        "case_number": record.case_number,
        "parties": record.parties,
        "media_type": record.media_type,
        "size": record.size,
        "filename": record.filename,
    }


def record_leaf(record: Record) -> Leaf:
    """The leaf a record row commits to (ValueError if the row cannot make one)."""
    return entries.record_leaf(
        category=CATEGORY_NUMBERS[record.category],
        court=record.court.code,
        code=record.code,
        sha256=bytes.fromhex(record.sha256),
        sm3=bytes.fromhex(record.sm3),
        metadata_digest=entries.salted_digest(bytes(record.metadata_salt), metadata(record)),
        timestamp_ms=milliseconds(record.recorded_at),
    )


def addressee_digest(salt: bytes, name: str, contact: str) -> bytes:
    """The salted digest of an addressee that a service event's leaf carries."""
    return entries.salted_digest(salt, [name, contact])


def event_leaf(event: ServiceEvent, record: Record, record_index: int) -> Leaf:
    """The leaf a service event row commits to, on the record whose entry is at
    `record_index` (ValueError if the row cannot make one)."""
    addressee = event.addressee
    return entries.event_leaf(
        event=EVENT_NUMBERS[event.event],
        court=record.court.code,
        code=record.code,
        record_index=record_index,
        sha256=bytes.fromhex(record.sha256),
        sm3=bytes.fromhex(record.sm3),
        timestamp_ms=milliseconds(event.recorded_at),
        channel=CHANNEL_NUMBERS.get(event.channel),
        addressee_digest=(
            addressee_digest(bytes(addressee.salt), addressee.name, addressee.contact)
            if addressee
            else None
        ),
        details_digest=entries.salted_digest(bytes(event.details_salt), event.details),
        occurred_at_ms=milliseconds(event.occurred_at),
    )


def record_differences(record: Record, actual: Leaf) -> list[str]:
    """What of a record row the ledger entry does not commit to: field names from
    entries.RECORD_FIELD_NAMES ("metadata" covers title, case number, parties, file name,
    size and type), or ["row"] when the row cannot even make a leaf."""
    try:
        expected = record_leaf(record)
    except (KeyError, ValueError, TypeError, AttributeError):
        return ["row"]
    return entries.differences(expected, actual, entries.RECORD_FIELD_NAMES)


def event_differences(
    event: ServiceEvent, record: Record, record_index: int, actual: Leaf
) -> list[str]:
    """What of a service event row its ledger entry does not commit to (field names from
    entries.EVENT_FIELD_NAMES), or ["row"] when the row cannot make a leaf."""
    try:
        expected = event_leaf(event, record, record_index)
    except (KeyError, ValueError, TypeError, AttributeError):
        return ["row"]
    return entries.differences(expected, actual, entries.EVENT_FIELD_NAMES)


def stored_sha256(record: Record, copy_to: IO[bytes] | None = None) -> bytes | None:
    """The SHA-256 of the file the portal keeps for a record (a stamped PDF, an original
    offered for download), or None when it is gone or cannot be read.

    copy_to receives the very bytes hashed, so that a caller serving them serves what
    was checked even if the stored file changes meanwhile.
    """
    digest = hashlib.sha256()
    try:
        with record.file.open("rb") as stored:
            for chunk in iter(lambda: stored.read(1 << 20), b""):
                digest.update(chunk)
                if copy_to is not None:
                    copy_to.write(chunk)
    except OSError:
        return None
    return digest.digest()


def expected_leaf(row: Record | ServiceEvent) -> bytes:
    """The leaf bytes a record or service event row submitted: as kept when this process
    submitted it, else rebuilt from the row."""
    if row.submitted_leaf is not None:
        return row.submitted_leaf
    if isinstance(row, Record):
        return record_leaf(row).encode()
    record_index = row.record.ledger_index
    assert record_index is not None  # an event is recorded once its record's entry is in
    return event_leaf(row, row.record, record_index).encode()


def await_ledger(row: Record | ServiceEvent, timeout: float | None = None) -> Receipt:
    """Wait for the ledger entry of a record or service event; SubmissionAltered if the
    entry is not the leaf the row made (its pool row was changed while it waited).

    The batch that integrated it wrote its ledger_index already (note_indexes).
    """
    receipt = sequencer.wait(row.submission, timeout, expected=expected_leaf(row))
    row.ledger_index = receipt.index
    return receipt


def await_ledger_many(records: list[Record], timeout: float | None = None) -> list[Receipt]:
    """Wait for the ledger entries of several records at once; their receipts, in order."""
    receipts = sequencer.wait_many(
        [r.submission for r in records], timeout, expected=[expected_leaf(r) for r in records]
    )
    for record, receipt in zip(records, receipts, strict=True):
        record.ledger_index = receipt.index
    return receipts


def ledger_index(row: Record | ServiceEvent) -> int | None:
    """The row's ledger index, once its entry is integrated (without waiting).

    Rows integrated before batches wrote their indexes are filled in here.
    """
    if row.ledger_index is None:
        index = sequencer.index_of(row.submission)
        if index is not None:
            row.ledger_index = index
            type(row).objects.filter(pk=row.pk).update(ledger_index=index)
    return row.ledger_index


def note_indexes(first: int, end: int, **kwargs) -> None:
    """Write the ledger index of the records and service events a batch integrated.

    Connected to sequencer.integrated, so it runs in the batch's own transaction: one
    statement per table and batch instead of an UPDATE and a commit per request.
    """
    from anchoring.models import Entry

    for model in (Record, ServiceEvent):
        added = Entry.objects.filter(index__gte=first, index__lt=end)
        model.objects.filter(
            submission__in=added.values("submission"), ledger_index__isnull=True
        ).update(
            ledger_index=Subquery(
                added.filter(submission=OuterRef("submission")).values("index")[:1]
            )
        )
