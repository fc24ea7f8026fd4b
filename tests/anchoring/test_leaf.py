"""The version-1 leaf format and the content digests it carries."""

import hashlib
import io

import pytest

from anchoring.digest import _CryptographySM3, digests, sm3, stream_digests
from anchoring.leaf import Kind, Leaf, LeafError, decode

SHA = bytes(range(32))
SM = bytes(range(32, 64))


def test_sm3_published_vectors():
    # GB/T 32905-2016, appendix A: "abc" and the 64-byte "abcd" * 16.
    assert sm3(b"abc").hex() == ("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_the_fallback_sm3_gives_the_published_vectors_too():
    # Used where OpenSSL offers hashlib no SM3; the same answers, in pieces as well.
    for data, expected in [
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ]:
        h = _CryptographySM3()
        h.update(data[:5])
        h.update(data[5:])
        assert h.digest().hex() == expected


def test_streamed_digests_equal_whole_digests_across_chunk_boundaries():
    data = bytes(range(256)) * 4099
    assert stream_digests(io.BytesIO(data), chunk_size=1000) == (*digests(data), len(data))
    assert digests(data)[0] == hashlib.sha256(data).digest()


def test_known_encoding_byte_for_byte():
    # The worked example of docs/formats.md.
    leaf = Leaf(Kind.ANCHOR, 1_767_225_600_000, SHA, SM, ((1, b"AB"),))
    assert leaf.encode().hex() == (
        "01"  # version
        "01"  # kind: anchor
        "0000019b76daa800"  # time: 2026-01-01T00:00:00Z in ms
        + SHA.hex()
        + SM.hex()
        + "0005"  # field block length
        + "01"
        + "0002"
        + "4142"  # tag 1, length 2, "AB"
    )


def test_round_trip():
    leaf = Leaf(Kind.SERVICE_EVENT, 1, SHA, SM, ((1, b"x"), (7, b""), (200, bytes(1000))))
    assert decode(leaf.encode()) == leaf


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:10], "too short"),
        (lambda b: b"\x02" + b[1:], "unknown leaf version"),
        (lambda b: b[:1] + b"\x09" + b[2:], "unknown entry kind"),
        (lambda b: b + b"\x00", "length"),
        (lambda b: b[:-1], "length"),
    ],
)
def test_non_canonical_bytes_are_refused(mutate, message):
    data = Leaf(Kind.ANCHOR, 5, SHA, SM, ((1, b"ab"),)).encode()
    with pytest.raises(LeafError, match=message):
        decode(mutate(data))


def test_fields_must_be_in_increasing_tag_order():
    with pytest.raises(LeafError):
        Leaf(Kind.RECORD, 0, SHA, SM, ((2, b""), (1, b"")))
    with pytest.raises(LeafError):
        Leaf(Kind.RECORD, 0, SHA, SM, ((1, b""), (1, b"")))
    # The same out-of-order fields coming from bytes are refused too.
    good = Leaf(Kind.RECORD, 0, SHA, SM, ((1, b""), (2, b""))).encode()
    swapped = good[:-6] + bytes([2, 0, 0, 1, 0, 0])
    with pytest.raises(LeafError):
        decode(swapped)


def test_digest_and_size_limits():
    with pytest.raises(LeafError):
        Leaf(Kind.ANCHOR, 0, SHA[:31], SM)
    with pytest.raises(LeafError):
        Leaf(Kind.ANCHOR, 0, SHA, SM, ((1, bytes(0xFFFF)),)).encode()
