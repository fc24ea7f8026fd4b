"""C2SP tlog-witness v1 add-checkpoint, without the database: the request's parsing and
every check, each refusal an exception carrying the spec's status.

The order of the checks is the spec's: a malformed body (400), an unknown origin (404),
no valid signature by the log's key (403), an old size above the checkpoint's (400), an
old size that is not the one last cosigned (409), then the consistency checks (422).
What is stored and signed is the caller's (witness/service.py). Pure Python: no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from anchoring.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from anchoring.merkle import EMPTY_ROOT, HASH_SIZE, ProofError, verify_consistency
from anchoring.note import (
    InvalidSignatureError,
    MalformedNoteError,
    Note,
    NoteError,
    NoteVerifier,
    UnverifiedNoteError,
    decode_base64,
    open_note,
    parse_note,
)

MAX_PROOF_LINES = 63
"""Most consistency proof lines a client may send (tlog-witness)."""

MAX_STORED_SIZE = 2**63 - 1
"""Largest tree size this witness records (its database stores sizes as signed 64 bits)."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The content type of a 409 answer, whose body is the size last cosigned."""

_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,19})")
_SIG_PREFIX = "\u2014 "


class WitnessError(Exception):
    """A refusal of add-checkpoint: `status` is the HTTP status the spec prescribes."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedRequest(WitnessError):
    """400: the body is not `old N`, proof lines, an empty line and a checkpoint, or the
    old size is above the checkpoint's."""

    status = 400


class UnknownLog(WitnessError):
    """404: the witness follows no log of this origin."""

    status = 404


class NotSignedByLog(WitnessError):
    """403: no valid signature by the log's key, or a signature by it that fails."""

    status = 403


class SizeConflict(WitnessError):
    """409: `old` is not the size last cosigned; `size` is that size."""

    status = 409

    def __init__(self, size: int) -> None:
        super().__init__(f"the last cosigned size is {size}")
        self.size = size

    def body(self) -> str:
        """The answer's body: the size in decimal and a newline."""
        return f"{self.size}\n"


class Inconsistent(WitnessError):
    """422: the checkpoint is not consistent with the one last cosigned."""

    status = 422


class SplitView(Inconsistent):
    """422: a checkpoint of the size last cosigned with another root, both signed by the log
    (two views of one log: evidence of misbehaviour)."""


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint body: old size, consistency proof, signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def origin(self) -> str:
        """The checkpoint's origin, read without checking any signature (to find its log)."""
        try:
            return parse_checkpoint(parse_note(self.note).text).origin
        except (NoteError, CheckpointError) as exc:
            raise MalformedRequest(f"checkpoint: {exc}") from None


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint opened with its log's key, and the log's signatures on it."""

    checkpoint: Checkpoint
    note: Note

    def log_signature_lines(self) -> str:
        """The signature lines of the log's key(s) that verified, as in the note."""
        return "".join(f"{_SIG_PREFIX}{s.name} {s.b64}\n" for s in self.note.sigs)


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body: `old N`, at most 63 base64 hashes, an empty line, the
    signed checkpoint; every line ends with a newline."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise MalformedRequest("no empty line before the checkpoint")
    lines = head.split("\n")
    match = _OLD_LINE.fullmatch(lines[0])
    if match is None:
        raise MalformedRequest(
            "the first line must be 'old <size>', a decimal without leading zeros"
        )
    old_size = int(match.group(1))
    if old_size > 2**64 - 1:
        raise MalformedRequest("the old size does not fit in 64 bits")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for number, line in enumerate(proof_lines, 2):
        raw = decode_base64(line)
        if raw is None or len(raw) != HASH_SIZE:
            raise MalformedRequest(f"line {number} is not a base64 SHA-256 hash")
        proof.append(raw)
    if not note:
        raise MalformedRequest("no checkpoint after the empty line")
    return AddCheckpoint(old_size, tuple(proof), note)


def open_signed(request: AddCheckpoint, log_key: NoteVerifier) -> SignedCheckpoint:
    """Open the checkpoint with the log's key (other keys' signatures are ignored) and check
    its sizes against the request's old size."""
    try:
        note = open_note(request.note, log_key)
    except (UnverifiedNoteError, InvalidSignatureError) as exc:
        raise NotSignedByLog(str(exc)) from None
    except MalformedNoteError as exc:
        raise MalformedRequest(str(exc)) from None
    except NoteError as exc:
        raise NotSignedByLog(str(exc)) from None
    try:
        checkpoint = parse_checkpoint(note.text)
    except CheckpointError as exc:
        raise MalformedRequest(f"checkpoint: {exc}") from None
    if request.old_size > checkpoint.size:
        raise MalformedRequest(
            f"the old size {request.old_size} is above the checkpoint's size {checkpoint.size}"
        )
    if checkpoint.size > MAX_STORED_SIZE:
        raise MalformedRequest(f"tree sizes above {MAX_STORED_SIZE} are not witnessed")
    return SignedCheckpoint(checkpoint, note)


def check_update(
    request: AddCheckpoint, checkpoint: Checkpoint, cosigned_size: int, cosigned_root: bytes
) -> None:
    """Check that `checkpoint` may follow the one last cosigned (`cosigned_size`,
    `cosigned_root`; size 0 and the empty root when none was): 409 or 422 if not."""
    if request.old_size != cosigned_size:
        raise SizeConflict(cosigned_size)
    if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise Inconsistent("a checkpoint of size 0 must have the empty tree's root")
    if request.old_size == 0 and request.proof:
        raise Inconsistent("the consistency proof from size 0 must be empty")
    if checkpoint.size == cosigned_size and checkpoint.root_hash != cosigned_root:
        raise SplitView(
            f"size {checkpoint.size} was cosigned with root {cosigned_root.hex()}, "
            f"this checkpoint has root {checkpoint.root_hash.hex()}"
        )
    if request.old_size == 0:
        return
    try:
        verify_consistency(
            request.old_size, checkpoint.size, cosigned_root, checkpoint.root_hash, request.proof
        )
    except ProofError as exc:
        raise Inconsistent(f"consistency proof: {exc}") from None


def cosigned_note(signed: SignedCheckpoint, cosignature_lines: str) -> str:
    """The checkpoint as the witness serves it: body, the log's signatures, its own."""
    return signed.note.text + "\n" + signed.log_signature_lines() + cosignature_lines
