"""C2SP tlog-cosignature v1 with Ed25519: a witness's statement that it saw a checkpoint
and checked it is consistent with every earlier one it saw.

A cosignature is a note signature line whose key id uses signature type 0x04 and whose
signature is timestamp (uint64, big-endian) || Ed25519 signature over

    cosignature/v1
    time <timestamp>
    <the checkpoint body>

Plain Python: CosignatureVerifier plugs into anchoring.note.open_note like a Verifier,
so a trust policy can require k of n witnesses on a checkpoint.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anchoring.note import (
    InvalidKeyError,
    Verifier,
    compute_key_id,
    decode_base64,
    encode_base64,
    is_valid_key_name,
)
from anchoring.note import parse_verifier_key as parse_note_key

SIG_TYPE_COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1


def message(body: bytes, timestamp: int) -> bytes:
    """What a v1 cosignature signs: the header, the time line, then the checkpoint body."""
    return b"cosignature/v1\ntime %d\n" % timestamp + body


class CosignatureVerifier:
    """A witness's Ed25519 cosigning key (vkey type 0x04)."""

    __slots__ = ("_key", "key_id", "name", "public_key", "last_timestamp")

    def __init__(self, name: str, public_key: bytes) -> None:
        if not is_valid_key_name(name):
            raise InvalidKeyError(f"invalid key name {name!r}")
        try:
            self._key = Ed25519PublicKey.from_public_bytes(bytes(public_key))
        except ValueError as exc:
            raise InvalidKeyError(f"invalid Ed25519 public key: {exc}") from None
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = compute_key_id(name, self.public_key, SIG_TYPE_COSIGNATURE_V1)
        self.last_timestamp: int | None = None

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Check timestamp || signature against the note text `msg`."""
        if len(sig) != 8 + 64:
            return False
        timestamp = int.from_bytes(sig[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self._key.verify(bytes(sig[8:]), message(bytes(msg), timestamp))
        except InvalidSignature:
            return False
        self.last_timestamp = timestamp
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CosignatureVerifier):
            return NotImplemented
        return (self.name, self.public_key) == (other.name, other.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.public_key, SIG_TYPE_COSIGNATURE_V1))


def vkey(name: str, public_key: bytes) -> str:
    """A witness key in C2SP vkey form: name+hexid+base64(0x04 || key)."""
    key_id = compute_key_id(name, public_key, SIG_TYPE_COSIGNATURE_V1)
    encoded = encode_base64(bytes([SIG_TYPE_COSIGNATURE_V1]) + public_key)
    return f"{name}+{key_id:08x}+{encoded}"


def parse_witness_key(text: str) -> CosignatureVerifier | Verifier:
    """A witness vkey: type 0x04 (cosignature/v1), or 0x01 (a plain note signature)."""
    parts = text.split("+", 2)
    if len(parts) == 3:
        raw = decode_base64(parts[2]) or b""
        if raw[:1] == bytes([SIG_TYPE_COSIGNATURE_V1]):
            if len(raw) != 33:
                raise InvalidKeyError("malformed witness key: Ed25519 key must be 32 bytes")
            verifier = CosignatureVerifier(parts[0], raw[1:])
            if f"{verifier.key_id:08x}" != parts[1].lower():
                raise InvalidKeyError("witness key id does not match the key")
            return verifier
    return parse_note_key(text)


def cosign(body: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """The signature line a witness adds to a checkpoint it cosigns (for tests and tools)."""
    public = key.public_key().public_bytes_raw()
    key_id = compute_key_id(name, public, SIG_TYPE_COSIGNATURE_V1)
    signature = key.sign(message(body.encode(), timestamp))
    raw = key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
    return f"— {name} {encode_base64(raw)}\n"
