"""What a court record and a service event commit to in the ledger (leaf fields).

Pure Python, so the offline verifier can rebuild a leaf from a record's public face plus
its ledger entry. Personal data (parties, addressees, titles) never enters a leaf in
clear: only a salted SHA-256 of it, whose salt stays with the court and the portal.
The tags and their encodings are listed in docs/formats.md.
"""

from __future__ import annotations

import enum
import hashlib
import json
import struct

from anchoring.leaf import SUBJECT_TAG, Kind, Leaf

SALT_SIZE = 16


class Category(enum.IntEnum):
    """Record categories, numbered as written in the leaf."""

    LITIGATION_DOCUMENT = 1
    EVIDENCE = 2
    MEDIATION = 3


class EventType(enum.IntEnum):
    """Service (送达) events, numbered as written in the leaf."""

    ISSUED = 1
    SENT = 2
    OPENED = 3
    ACKNOWLEDGED = 4


class Channel(enum.IntEnum):
    """How a document was sent to its addressee."""

    PLATFORM = 1
    SMS = 2
    EMAIL = 3
    POST = 4


# Field tags of a RECORD leaf.
RECORD_CATEGORY, RECORD_COURT, RECORD_CODE, RECORD_METADATA = 1, 2, SUBJECT_TAG, 4
# Field tags of a SERVICE_EVENT leaf.
EVENT_TYPE, EVENT_COURT, EVENT_RECORD_CODE, EVENT_RECORD_INDEX = 1, 2, SUBJECT_TAG, 4
EVENT_CHANNEL, EVENT_ADDRESSEE, EVENT_DETAILS, EVENT_OCCURRED_AT = 5, 6, 7, 8

# What each part of a leaf is called when a row and its entry disagree.
RECORD_FIELD_NAMES = {
    RECORD_CATEGORY: "category",
    RECORD_COURT: "court",
    RECORD_CODE: "code",
    RECORD_METADATA: "metadata",
}
EVENT_FIELD_NAMES = {
    EVENT_TYPE: "event",
    EVENT_COURT: "court",
    EVENT_RECORD_CODE: "record_code",
    EVENT_RECORD_INDEX: "record_index",
    EVENT_CHANNEL: "channel",
    EVENT_ADDRESSEE: "addressee",
    EVENT_DETAILS: "details",
    EVENT_OCCURRED_AT: "occurred_at",
}


def differences(expected: Leaf, actual: Leaf, names: dict[int, str]) -> list[str]:
    """The parts of `actual` that are not those of `expected`, by name: "kind", "time",
    "sha256", "sm3", a field's name from `names` (or "field N"). Empty when equal."""
    wrong = [
        name
        for name, a, b in (
            ("kind", expected.kind, actual.kind),
            ("time", expected.timestamp_ms, actual.timestamp_ms),
            ("sha256", expected.sha256, actual.sha256),
            ("sm3", expected.sm3, actual.sm3),
        )
        if a != b
    ]
    mine, theirs = dict(expected.fields), dict(actual.fields)
    for tag in sorted(mine.keys() | theirs.keys()):
        if mine.get(tag) != theirs.get(tag):
            wrong.append(names.get(tag, f"field {tag}"))
    return wrong


def salted_digest(salt: bytes, value: object) -> bytes:
    """SHA-256(salt || canonical JSON of value): commits to value without revealing it."""
    if len(salt) != SALT_SIZE:
        raise ValueError(f"salt must be {SALT_SIZE} bytes")
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(salt + canonical.encode()).digest()


def record_leaf(
    *,
    category: Category,
    court: str,
    code: str,
    sha256: bytes,
    sm3: bytes,
    metadata_digest: bytes,
    timestamp_ms: int,
) -> Leaf:
    """The leaf of a record: content digests, category, court, code and metadata digest."""
    return Leaf(
        Kind.RECORD,
        timestamp_ms,
        sha256,
        sm3,
        (
            (RECORD_CATEGORY, bytes([category])),
            (RECORD_COURT, court.encode()),
            (RECORD_CODE, code.encode("ascii")),
            (RECORD_METADATA, metadata_digest),
        ),
    )


def event_leaf(
    *,
    event: EventType,
    court: str,
    code: str,
    record_index: int,
    sha256: bytes,
    sm3: bytes,
    timestamp_ms: int,
    channel: Channel | None = None,
    addressee_digest: bytes | None = None,
    details_digest: bytes | None = None,
    occurred_at_ms: int | None = None,
) -> Leaf:
    """The leaf of a service event on a record; it carries the record document's digests,
    so a look-up by the document's digest finds its whole service timeline."""
    fields: list[tuple[int, bytes]] = [
        (EVENT_TYPE, bytes([event])),
        (EVENT_COURT, court.encode()),
        (EVENT_RECORD_CODE, code.encode("ascii")),
        (EVENT_RECORD_INDEX, struct.pack(">Q", record_index)),
    ]
    if channel is not None:
        fields.append((EVENT_CHANNEL, bytes([channel])))
    if addressee_digest is not None:
        fields.append((EVENT_ADDRESSEE, addressee_digest))
    if details_digest is not None:
        fields.append((EVENT_DETAILS, details_digest))
    if occurred_at_ms is not None:
        fields.append((EVENT_OCCURRED_AT, struct.pack(">Q", occurred_at_ms)))
    return Leaf(Kind.SERVICE_EVENT, timestamp_ms, sha256, sm3, tuple(fields))
