"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

Wire-compatible with golang.org/x/mod/sumdb/note: same key strings
(``name+hexkeyid+base64key`` and ``PRIVATE+KEY+name+hexkeyid+base64seed``),
same key ids, same note syntax, and at least the same rejections.
Pure Python: standard library and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIG_TYPE_ED25519",
    "AmbiguousVerifierError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "MalformedNoteError",
    "Note",
    "NoteError",
    "NoteVerifier",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "compute_key_id",
    "decode_base64",
    "encode_base64",
    "is_valid_key_name",
    "new_signer_key",
    "open_note",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_note",
    "signer_key",
    "verifier_key",
]

SIG_TYPE_ED25519 = 0x01
"""Signature type identifier byte assigned to Ed25519 by the signed-note spec."""

MAX_SIGNATURES = 100
"""Most signature lines accepted in one note (Go's limit; the spec demands at least 16)."""

MAX_NOTE_SIZE = 1 << 20
"""Largest encoded note accepted, in bytes (the spec asks verifiers to bound notes)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
# Unicode White_Space, i.e. exactly what Go's unicode.IsSpace rejects in key names.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class NoteError(ValueError):
    """Base class of every signed-note error, so callers can catch one type."""


class InvalidKeyError(NoteError):
    """A key string, key name or raw key is malformed or inconsistent."""


class MalformedNoteError(NoteError):
    """The note does not follow the signed-note syntax."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed note: {reason}")
        self.reason = reason


class AmbiguousVerifierError(NoteError):
    """Two different trusted keys share a name and key id, so neither can be chosen."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"ambiguous key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class InvalidSignatureError(NoteError):
    """A signature from a known key failed to verify: the whole note is rejected."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class UnverifiedNoteError(NoteError):
    """The note parsed but no known key signed it; ``note`` holds the unverified content."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


def is_valid_key_name(name: str) -> bool:
    """Report whether name is a legal key name (non-empty UTF-8, no spaces, no '+')."""
    if not isinstance(name, str) or not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates are not valid UTF-8
        return False
    # Control characters are not forbidden by the spec for names, but such a name
    # could never appear in a valid note, so it is rejected early.
    return "+" not in name and not any(c in _SPACES for c in name) and not _CONTROL.search(name)


def _key_hash(name: str, encoded_key: bytes) -> int:
    """Key id of name and type-prefixed key: SHA-256(name || 0x0A || key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + encoded_key).digest()
    return int.from_bytes(digest[:4], "big")


def compute_key_id(name: str, public_key: bytes, sig_type: int = SIG_TYPE_ED25519) -> int:
    """Return the spec's key id SHA-256(name || 0x0A || type || key)[:4] as a uint32."""
    if not 0 <= sig_type <= 0xFF:
        raise InvalidKeyError(f"signature type {sig_type} is not a byte")
    return _key_hash(name, bytes([sig_type]) + bytes(public_key))


def decode_base64(text: object) -> bytes | None:
    """Decode canonical standard base64 (RFC 4648 §4, padded), or None if it is not.

    The one base64 reader of the ledger's formats (notes, checkpoints, proofs, keys,
    proof bundles): a value has one spelling, so two encodings never pass for one.
    """
    if not isinstance(text, str):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Re-encoding rejects non-zero trailing bits, so each value has one spelling.
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def encode_base64(raw: bytes) -> str:
    """Encode bytes as padded standard base64 text, the spelling decode_base64 reads."""
    return base64.b64encode(raw).decode("ascii")


@runtime_checkable
class NoteVerifier(Protocol):
    """A key that checks note signatures: an Ed25519 Verifier or a witness's cosigning key."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, msg: bytes, sig: bytes) -> bool: ...


class Verifier:
    """Trusted Ed25519 public key with its name; verifies raw note signatures."""

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        """Build a verifier for name from an Ed25519 public key (object or 32 raw bytes)."""
        if not is_valid_key_name(name):
            raise InvalidKeyError(f"invalid key name {name!r}")
        if isinstance(public_key, Ed25519PublicKey):
            raw = public_key.public_bytes_raw()
        else:
            raw = bytes(public_key)
            if len(raw) != _ED25519_KEY_SIZE:
                raise InvalidKeyError(
                    f"Ed25519 public key must be {_ED25519_KEY_SIZE} bytes, got {len(raw)}"
                )
        try:
            key = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:
            raise InvalidKeyError(f"invalid Ed25519 public key: {exc}") from None
        self.name: str = name
        self.public_key: bytes = raw
        self.key_id: int = compute_key_id(name, raw)
        self._key = key

    def verify(self, msg: bytes, sig: bytes) -> bool:
        """Report whether sig is a valid Ed25519 signature of msg by this key."""
        if len(sig) != _ED25519_SIG_SIZE:
            return False
        try:
            self._key.verify(bytes(sig), bytes(msg))
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        """Compare by name and key so duplicated trust entries are recognised."""
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self.public_key) == (other.name, other.public_key)

    def __hash__(self) -> int:
        """Hash consistently with equality."""
        return hash((self.name, self.public_key))

    def __repr__(self) -> str:
        """Show the public verifier key string."""
        return f"Verifier({verifier_key(self)!r})"


class Signer:
    """Named Ed25519 private key that signs note texts; never prints its secret."""

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """Build a signer for name from an Ed25519 private key."""
        if not is_valid_key_name(name):
            raise InvalidKeyError(f"invalid key name {name!r}")
        if not isinstance(private_key, Ed25519PrivateKey):
            raise InvalidKeyError("private key must be an Ed25519PrivateKey")
        self.name: str = name
        self.public_key: bytes = private_key.public_key().public_bytes_raw()
        self.key_id: int = compute_key_id(name, self.public_key)
        self._key = private_key

    @classmethod
    def generate(cls, name: str) -> Signer:
        """Create a signer with a fresh random Ed25519 key."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        """Create a signer from a 32-byte RFC 8032 private key seed."""
        if len(seed) != _ED25519_KEY_SIZE:
            raise InvalidKeyError(f"Ed25519 seed must be {_ED25519_KEY_SIZE} bytes")
        return cls(name, Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    def sign(self, msg: bytes) -> bytes:
        """Return the raw 64-byte Ed25519 signature of msg (no key id prefix)."""
        return self._key.sign(bytes(msg))

    def verifier(self) -> Verifier:
        """Return the verifier matching this signer."""
        return Verifier(self.name, self.public_key)

    def __repr__(self) -> str:
        """Identify the key without revealing the private seed."""
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"


def verifier_key(key: Signer | Verifier | Ed25519PublicKey | bytes, name: str | None = None) -> str:
    """Encode a public key as ``name+hexkeyid+base64(0x01||pubkey)`` for distribution."""
    if isinstance(key, (Signer, Verifier)):
        if name is not None and name != key.name:
            raise InvalidKeyError(f"name {name!r} does not match key name {key.name!r}")
        verifier = key if isinstance(key, Verifier) else key.verifier()
    else:
        if name is None:
            raise InvalidKeyError("a key name is required for a bare public key")
        verifier = Verifier(name, key)
    encoded = encode_base64(bytes([SIG_TYPE_ED25519]) + verifier.public_key)
    return f"{verifier.name}+{verifier.key_id:08x}+{encoded}"


def _split_key(body: str, what: str) -> tuple[str, int, bytes]:
    """Split ``name+hexkeyid+base64key`` into checked parts; shared by both key forms."""
    parts = body.split("+", 2)
    if len(parts) != 3:
        raise InvalidKeyError(f"malformed {what}: expected name+keyid+key")
    name, hash16, key64 = parts
    if not is_valid_key_name(name):
        raise InvalidKeyError(f"malformed {what}: invalid key name")
    # Go: len(hash16) == 8 and strconv.ParseUint(hash16, 16, 32), which takes either case.
    if not _HEX8.fullmatch(hash16):
        raise InvalidKeyError(f"malformed {what}: key id must be 8 hexadecimal digits")
    key = decode_base64(key64)
    if not key:
        raise InvalidKeyError(f"malformed {what}: key is not canonical non-empty base64")
    if key[0] != SIG_TYPE_ED25519:
        raise InvalidKeyError(f"malformed {what}: unknown algorithm {key[0]:#04x}")
    if len(key) != 1 + _ED25519_KEY_SIZE:
        raise InvalidKeyError(
            f"malformed {what}: Ed25519 key must be {_ED25519_KEY_SIZE} bytes, got {len(key) - 1}"
        )
    return name, int(hash16, 16), key[1:]


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse a ``name+hexkeyid+base64key`` verifier key, checking its key id."""
    if not isinstance(vkey, str):
        raise InvalidKeyError("verifier key must be a string")
    if vkey.startswith(_PRIVATE_PREFIX):
        raise InvalidKeyError("this is a private signer key, not a verifier key")
    name, key_id, raw = _split_key(vkey, "verifier key")
    verifier = Verifier(name, raw)
    if verifier.key_id != key_id:
        raise InvalidKeyError(
            f"verifier key id {key_id:08x} does not match key (expected {verifier.key_id:08x})"
        )
    return verifier


def parse_signer_key(skey: str) -> Signer:
    """Parse a Go ``PRIVATE+KEY+name+hexkeyid+base64seed`` signer key, checking its key id."""
    if not isinstance(skey, str) or not skey.startswith(_PRIVATE_PREFIX):
        raise InvalidKeyError("malformed signer key: must start with PRIVATE+KEY+")
    name, key_id, seed = _split_key(skey[len(_PRIVATE_PREFIX) :], "signer key")
    signer = Signer.from_seed(name, seed)
    if signer.key_id != key_id:
        raise InvalidKeyError("signer key id does not match the key derived from the seed")
    return signer


def signer_key(signer: Signer) -> str:
    """Encode a signer as a Go-compatible ``PRIVATE+KEY+...`` string (keep it secret)."""
    seed = signer._key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    encoded = encode_base64(bytes([SIG_TYPE_ED25519]) + seed)
    return f"{_PRIVATE_PREFIX}{signer.name}+{signer.key_id:08x}+{encoded}"


def new_signer_key(name: str) -> tuple[str, str]:
    """Generate a fresh key pair, returned as (private signer key, public verifier key)."""
    signer = Signer.generate(name)
    return signer_key(signer), verifier_key(signer)


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key id and the base64 of key id || signature."""

    name: str
    key_id: int
    b64: str


@dataclass(frozen=True)
class Note:
    """A note text with its verified and unverified (unknown key) signatures."""

    text: str
    sigs: tuple[Signature, ...] = ()
    unverified_sigs: tuple[Signature, ...] = ()


def _check_text(text: str) -> bytes:
    """Validate a note text (UTF-8, final newline, no controls) and return its bytes."""
    if not isinstance(text, str):
        raise MalformedNoteError("text must be a string")
    if not text.endswith("\n"):
        raise MalformedNoteError("text does not end in newline")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedNoteError("text is not valid UTF-8") from None
    if _CONTROL.search(text):
        raise MalformedNoteError("text contains an ASCII control character other than newline")
    return data


def _parse(note: str | bytes) -> tuple[str, list[tuple[Signature, bytes]]]:
    """Split a signed note into text and decoded signature lines, enforcing the syntax."""
    if isinstance(note, str):
        try:
            data = note.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedNoteError("note is not valid UTF-8") from None
    elif isinstance(note, (bytes, bytearray, memoryview)):
        data = bytes(note)
    else:
        raise MalformedNoteError("note must be str or bytes")
    if len(data) > MAX_NOTE_SIZE:
        raise MalformedNoteError(f"note is larger than {MAX_NOTE_SIZE} bytes")
    try:
        msg = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNoteError("note is not valid UTF-8") from None
    if _CONTROL.search(msg):
        raise MalformedNoteError("note contains an ASCII control character other than newline")

    split = msg.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("no blank line separating text from signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block:
        raise MalformedNoteError("no signature lines")
    if not block.endswith("\n"):
        raise MalformedNoteError("last signature line does not end in newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")

    entries: list[tuple[Signature, bytes]] = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNoteError(f"signature line {number} does not start with em dash, space")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not is_valid_key_name(name):
            raise MalformedNoteError(f"signature line {number} has an invalid key name")
        raw = decode_base64(b64)
        if raw is None:
            raise MalformedNoteError(f"signature line {number} is not canonical base64")
        if len(raw) < 5:
            raise MalformedNoteError(f"signature line {number} is shorter than 5 bytes")
        key_id = int.from_bytes(raw[:4], "big")
        entries.append((Signature(name, key_id, b64), raw[4:]))
    return text, entries


def parse_note(note: str | bytes) -> Note:
    """Check a note's syntax without verifying it; every signature is left unverified."""
    text, entries = _parse(note)
    unverified: dict[tuple[str, str], Signature] = {}
    for sig, _ in entries:
        unverified.setdefault((sig.name, sig.b64), sig)
    return Note(text, (), tuple(unverified.values()))


def _index_verifiers(
    verifiers: NoteVerifier | Iterable[NoteVerifier],
) -> dict[tuple[str, int], list[NoteVerifier]]:
    """Group trusted verifiers by (name, key id), collapsing identical entries."""
    items = [verifiers] if isinstance(verifiers, NoteVerifier) else list(verifiers)
    known: dict[tuple[str, int], list[NoteVerifier]] = {}
    for verifier in items:
        group = known.setdefault((verifier.name, verifier.key_id), [])
        if verifier not in group:
            group.append(verifier)
    return known


def open_note(note: str | bytes, verifiers: NoteVerifier | Iterable[NoteVerifier]) -> Note:
    """Parse a signed note and verify it against trusted keys; unknown keys are ignored.

    Raises MalformedNoteError on bad syntax, InvalidSignatureError if a known key's
    signature is wrong, and UnverifiedNoteError if no known key signed the note.
    """
    text, entries = _parse(note)
    msg = text.encode("utf-8")
    known = _index_verifiers(verifiers)
    sigs: list[Signature] = []
    unverified: list[Signature] = []
    seen_known: dict[tuple[str, int], str] = {}
    seen_unknown: set[tuple[str, str]] = set()
    for sig, raw in entries:
        ident = (sig.name, sig.key_id)
        group = known.get(ident)
        if group is None:
            # The spec requires ignoring unknown keys; drop repeated identical lines.
            if (sig.name, sig.b64) not in seen_unknown:
                seen_unknown.add((sig.name, sig.b64))
                unverified.append(sig)
            continue
        if len(group) > 1:
            raise AmbiguousVerifierError(sig.name, sig.key_id)
        if ident in seen_known:
            if seen_known[ident] == sig.b64:
                continue  # identical repeat, already verified (Go drops it too)
            raise MalformedNoteError(f"more than one signature for key {sig.name}+{sig.key_id:08x}")
        seen_known[ident] = sig.b64
        if not group[0].verify(msg, raw):
            raise InvalidSignatureError(sig.name, sig.key_id)
        sigs.append(sig)
    result = Note(text, tuple(sigs), tuple(unverified))
    if not sigs:
        raise UnverifiedNoteError(result)
    return result


def sign_note(note: str | Note, *signers: Signer) -> str:
    """Sign a text (or re-sign a Note, keeping its other signatures) and encode it.

    As in Go, an existing signature by the same name and key id as a new signer
    is replaced, and new signature lines come after the kept ones. To cosign an
    encoded note pass parse_note(note) or open_note(...), not the encoded string,
    whose signature lines would otherwise be signed as text.
    """
    if isinstance(note, Note):
        text, existing = note.text, note.sigs + note.unverified_sigs
    else:
        text, existing = note, ()
    msg = _check_text(text)

    have: set[tuple[str, int]] = set()
    new_lines: list[str] = []
    for signer in signers:
        name, key_id = signer.name, signer.key_id
        if not is_valid_key_name(name):
            raise NoteError(f"invalid signer: bad key name {name!r}")
        if not isinstance(key_id, int) or not 0 <= key_id <= 0xFFFFFFFF:
            raise NoteError(f"invalid signer: key id {key_id!r} is not a uint32")
        have.add((name, key_id))
        raw = key_id.to_bytes(4, "big") + bytes(signer.sign(msg))
        new_lines.append(f"{_SIG_PREFIX}{name} {encode_base64(raw)}\n")

    lines: list[str] = []
    for sig in existing:
        if not is_valid_key_name(sig.name):
            raise MalformedNoteError(f"existing signature has invalid key name {sig.name!r}")
        if (sig.name, sig.key_id) in have:
            continue
        existing_raw = decode_base64(sig.b64)
        if (
            existing_raw is None
            or len(existing_raw) < 5
            or int.from_bytes(existing_raw[:4], "big") != sig.key_id
        ):
            raise MalformedNoteError(
                f"existing signature for {sig.name} does not encode key id {sig.key_id:08x}"
            )
        lines.append(f"{_SIG_PREFIX}{sig.name} {sig.b64}\n")
    lines.extend(new_lines)

    if not lines:
        raise NoteError("a signed note needs at least one signature")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    encoded = text + "\n" + "".join(lines)
    if len(encoded.encode("utf-8")) > MAX_NOTE_SIZE:
        raise NoteError(f"signed note would be larger than {MAX_NOTE_SIZE} bytes")
    return encoded
