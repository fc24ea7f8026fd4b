"""What a record's and a service event's rows commit to in the ledger, rebuilt from the rows.

The ledger, not the database, is the truth: a row is believed only where the leaf rebuilt
from it is byte for byte the ledger entry. Registration builds the leaves it submits with
these functions, submitters compare their entry with them, and verification and
ledger_fsck use them to find every row that disagrees with its entry.
"""

from __future__ import annotations

import hashlib

from anchoring.leaf import Leaf
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


def stored_sha256(record: Record) -> bytes | None:
    """The SHA-256 of the file the portal keeps for a record (a stamped PDF, an original
    offered for download), or None when it is gone or cannot be read."""
    digest = hashlib.sha256()
    try:
        with record.file.open("rb") as stored:
            for chunk in iter(lambda: stored.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.digest()
