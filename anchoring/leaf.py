"""The ledger's leaf format, version 1: what one log entry commits to, byte for byte.

A leaf never carries personal data in clear, only digests, codes and times. The layout
is written down in docs/formats.md so that any other implementation can rebuild a leaf
and its hash; this module is plain Python so the offline verifier can use it.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

VERSION = 1
DIGEST_SIZE = 32
MAX_LEAF_SIZE = 0xFFFF  # an entry bundle prefixes each entry with a uint16 length
_HEADER = struct.Struct(">BBQ32s32sH")
# In a RECORD or SERVICE_EVENT leaf, field 3 is the record code the entry concerns: the
# log indexes it (its "subject") so that every entry about a record can be looked up.
SUBJECT_TAG = 3
SUBJECT_MAX = 32


class LeafError(ValueError):
    """The bytes are not a well-formed, canonical version-1 leaf."""


class Kind(enum.IntEnum):
    """What an entry records; the number is the byte written in the leaf."""

    ANCHOR = 1  # a file's digests anchored by an operator (archives, reports)
    RECORD = 2  # a court record (fields defined with the court side)
    SERVICE_EVENT = 3  # a service (送达) event on a record


@dataclass(frozen=True)
class Leaf:
    """One ledger entry before encoding: kind, time, content digests, extra fields."""

    kind: Kind
    timestamp_ms: int
    sha256: bytes
    sm3: bytes
    fields: tuple[tuple[int, bytes], ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.sha256) != DIGEST_SIZE or len(self.sm3) != DIGEST_SIZE:
            raise LeafError("digests must be 32 bytes each")
        if not 0 <= self.timestamp_ms < 2**64:
            raise LeafError("timestamp out of range")
        tags = [tag for tag, _ in self.fields]
        if tags != sorted(set(tags)) or any(not 0 <= t <= 255 for t in tags):
            raise LeafError("field tags must be distinct bytes in increasing order")

    @property
    def time(self) -> datetime:
        """The leaf's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    def encode(self) -> bytes:
        """The canonical bytes of this leaf: the log entry itself."""
        size = _HEADER.size + sum(3 + len(value) for _, value in self.fields)
        if size > MAX_LEAF_SIZE:
            raise LeafError(f"leaf would be {size} bytes, more than {MAX_LEAF_SIZE}")
        body = b"".join(struct.pack(">BH", tag, len(value)) + value for tag, value in self.fields)
        return (
            _HEADER.pack(VERSION, self.kind, self.timestamp_ms, self.sha256, self.sm3, len(body))
            + body
        )


def subject(entry: Leaf) -> str | None:
    """The record code a record or service-event leaf concerns; None for other kinds."""
    if entry.kind not in (Kind.RECORD, Kind.SERVICE_EVENT):
        return None
    value = dict(entry.fields).get(SUBJECT_TAG)
    if value is None or not 0 < len(value) <= SUBJECT_MAX or not value.isascii():
        return None
    return value.decode("ascii")


def decode(data: bytes) -> Leaf:
    """Parse canonical leaf bytes; anything else (other version, trailing bytes) fails."""
    if len(data) < _HEADER.size:
        raise LeafError("leaf too short")
    version, kind, ts, sha, sm, body_len = _HEADER.unpack_from(data)
    if version != VERSION:
        raise LeafError(f"unknown leaf version {version}")
    try:
        kind = Kind(kind)
    except ValueError:
        raise LeafError(f"unknown entry kind {kind}") from None
    body = data[_HEADER.size :]
    if len(body) != body_len:
        raise LeafError("field block length does not match the leaf length")
    fields, pos = [], 0
    while pos < len(body):
        if pos + 3 > len(body):
            raise LeafError("truncated field header")
        tag, length = struct.unpack_from(">BH", body, pos)
        pos += 3
        if pos + length > len(body):
            raise LeafError("truncated field value")
        fields.append((tag, body[pos : pos + length]))
        pos += length
    return Leaf(kind, ts, sha, sm, tuple(fields))
