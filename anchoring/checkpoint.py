"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) and tlog-proof (https://c2sp.org/tlog-proof).

A checkpoint is the signed tree head of the transparency log, carried as a
signed note; a proof bundles an inclusion proof with the checkpoint it leads
to, so a court file's ledger entry can be checked offline. Pure Python: standard
library and ``cryptography`` (through anchoring.note) only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from anchoring.merkle import HASH_SIZE, ProofError
from anchoring.note import (
    MAX_NOTE_SIZE,
    NoteError,
    NoteVerifier,
    Signer,
    decode_base64,
    encode_base64,
    open_note,
    parse_note,
    sign_note,
)

__all__ = [
    "MAX_PROOF_HASHES",
    "PROOF_HEADER",
    "Checkpoint",
    "CheckpointError",
    "Proof",
    "format_proof",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_proof",
    "sign_checkpoint",
]

MAX_TREE_SIZE = (1 << 64) - 1
"""Largest tree size or leaf index: RFC 6962 sizes are uint64."""

MAX_PROOF_HASHES = 64
"""An inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes."""

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every tlog-proof."""

_MAX_PROOF_SIZE = MAX_NOTE_SIZE + 64 * 1024
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")  # ASCII, canonical, no sign or leading zeros
_CONTROL = re.compile(r"[\x00-\x1f]")


class CheckpointError(ValueError):
    """A checkpoint body is malformed or is not the one expected."""


def _parse_decimal(text: str, what: str, error: type[ValueError]) -> int:
    """Parse a canonical ASCII decimal uint64 (no sign, no leading zeros)."""
    if not _DECIMAL.fullmatch(text):
        raise error(f"{what} {text!r} is not a canonical decimal number")
    value = int(text)
    if value > MAX_TREE_SIZE:
        raise error(f"{what} {text} does not fit in 64 bits")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """Signed tree head body: log origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Reject values that could not be encoded as a valid checkpoint note text."""
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("origin must be a non-empty string")
        if _CONTROL.search(self.origin):
            raise CheckpointError("origin must not contain newlines or control characters")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("tree size must be an int")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {self.size} is outside 0..2**64-1")
        if isinstance(self.root_hash, (bytearray, memoryview)):  # e.g. from a DB driver
            object.__setattr__(self, "root_hash", bytes(self.root_hash))
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        if isinstance(self.extensions, str):
            raise CheckpointError("extensions must be a sequence of lines, not a string")
        extensions = tuple(self.extensions)
        for line in extensions:
            if not isinstance(line, str) or not line:
                raise CheckpointError("extension lines must be non-empty strings")
            if _CONTROL.search(line):
                raise CheckpointError("extension lines must not contain newlines or controls")
        object.__setattr__(self, "extensions", extensions)
        try:
            self.body().encode("utf-8")
        except UnicodeEncodeError:
            raise CheckpointError("checkpoint text is not valid UTF-8") from None

    def body(self) -> str:
        """Return the note text: origin, size, base64 root hash, extensions, each + newline."""
        lines = [self.origin, str(self.size), encode_base64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text, rejecting anything the tlog-checkpoint spec forbids."""
    if not isinstance(text, str):
        raise CheckpointError("checkpoint text must be a string")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text does not end in newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, tree size and root hash lines")
    for number, line in enumerate(lines, 1):
        if not line:
            raise CheckpointError(f"checkpoint line {number} is empty")
        if _CONTROL.search(line):
            raise CheckpointError(f"checkpoint line {number} contains a control character")
    size = _parse_decimal(lines[1], "tree size", CheckpointError)
    root_hash = decode_base64(lines[2])
    if root_hash is None:
        raise CheckpointError("root hash is not canonical base64")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash is {len(root_hash)} bytes, expected {HASH_SIZE}")
    return Checkpoint(lines[0], size, root_hash, tuple(lines[3:]))


def sign_checkpoint(cp: Checkpoint, signer: Signer, *, allow_name_mismatch: bool = False) -> str:
    """Sign a checkpoint as the log and return the signed note.

    tlog-checkpoint says the log's key name SHOULD equal the origin; this is
    enforced unless allow_name_mismatch is set (e.g. to mimic sum.golang.org).
    """
    if not isinstance(cp, Checkpoint):
        raise CheckpointError("expected a Checkpoint")
    if signer.name != cp.origin and not allow_name_mismatch:
        raise CheckpointError(
            f"key name {signer.name!r} differs from checkpoint origin {cp.origin!r}"
        )
    return sign_note(cp.body(), signer)


def open_checkpoint(
    note_text: str | bytes,
    verifier: NoteVerifier | Iterable[NoteVerifier],
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint with trusted key(s), then parse it and check its origin.

    Signatures from unknown keys (witnesses, rotated keys) are ignored; note
    errors (NoteError subclasses) propagate, body errors raise CheckpointError.
    """
    note = open_note(note_text, verifier)
    cp = parse_checkpoint(note.text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
    return cp


@dataclass(frozen=True)
class Proof:
    """A parsed tlog-proof: leaf index, inclusion proof, signed checkpoint note, extra data."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def format(self) -> str:
        """Encode this proof in the tlog-proof text form."""
        return format_proof(self.index, self.hashes, self.checkpoint, extra=self.extra)


def _check_proof_checkpoint(note_text: str, index: int) -> None:
    """Check the embedded checkpoint is a well-formed signed note covering index."""
    try:
        note = parse_note(note_text)
    except NoteError as exc:
        raise ProofError(f"embedded checkpoint: {exc}") from None
    try:
        cp = parse_checkpoint(note.text)
    except CheckpointError as exc:
        raise ProofError(f"embedded checkpoint: {exc}") from None
    if index >= cp.size:
        raise ProofError(f"index {index} is not below the checkpoint tree size {cp.size}")


def format_proof(
    index: int,
    proof_hashes: Sequence[bytes],
    signed_checkpoint_note: str,
    extra: bytes | None = None,
) -> str:
    """Encode an inclusion proof and its signed checkpoint as a c2sp.org/tlog-proof@v1 text."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_TREE_SIZE:
        raise ProofError("index must be an int in 0..2**64-1")
    hashes = list(proof_hashes)
    if len(hashes) > MAX_PROOF_HASHES:
        raise ProofError(f"more than {MAX_PROOF_HASHES} proof hashes")
    for h in hashes:
        if not isinstance(h, (bytes, bytearray, memoryview)) or len(h) != HASH_SIZE:
            raise ProofError(f"proof hashes must be {HASH_SIZE} bytes each")
    if extra is not None and not isinstance(extra, (bytes, bytearray)):
        raise ProofError("extra data must be bytes or None")
    if not isinstance(signed_checkpoint_note, str):
        raise ProofError("signed checkpoint note must be a string")
    _check_proof_checkpoint(signed_checkpoint_note, index)
    lines = [PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + encode_base64(bytes(extra)))
    lines.append(f"index {index}")
    lines.extend(encode_base64(bytes(h)) for h in hashes)
    return "\n".join(lines) + "\n\n" + signed_checkpoint_note


def parse_proof(text: object) -> Proof:
    """Parse a c2sp.org/tlog-proof@v1 text; the checkpoint's signatures are not verified here."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > _MAX_PROOF_SIZE:
            raise ProofError(f"proof is larger than {_MAX_PROOF_SIZE} bytes")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise ProofError("proof is not valid UTF-8") from None
    if not isinstance(text, str):
        raise ProofError("proof must be str or bytes")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ProofError("proof is not valid UTF-8") from None
    if size > _MAX_PROOF_SIZE:
        raise ProofError(f"proof is larger than {_MAX_PROOF_SIZE} bytes")
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise ProofError("no empty line between the inclusion proof and the checkpoint")
    lines = head.split("\n")
    if lines[0] != PROOF_HEADER:
        raise ProofError(f"first line must be {PROOF_HEADER!r}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = decode_base64(lines[pos][len("extra ") :])
        if extra is None:
            raise ProofError("extra data is not canonical base64")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise ProofError("missing 'index <n>' line")
    index = _parse_decimal(lines[pos][len("index ") :], "index", ProofError)
    hash_lines = lines[pos + 1 :]
    if len(hash_lines) > MAX_PROOF_HASHES:
        raise ProofError(f"more than {MAX_PROOF_HASHES} proof hashes")
    hashes: list[bytes] = []
    for number, line in enumerate(hash_lines, 1):
        raw = decode_base64(line)
        if raw is None:
            raise ProofError(f"proof hash {number} is not canonical base64")
        if len(raw) != HASH_SIZE:
            raise ProofError(f"proof hash {number} is {len(raw)} bytes, expected {HASH_SIZE}")
        hashes.append(raw)
    _check_proof_checkpoint(checkpoint, index)
    return Proof(index, tuple(hashes), checkpoint, extra)
