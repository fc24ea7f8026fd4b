"""A verification, step by step: find what the ledger says about a file or a record code,
and prove it from signed checkpoints and Merkle proofs, trusting no server answer.

Outcomes: verified; not_found (no record has this digest or code); mismatch (the record
exists and the file differs from it); inconclusive (a proof or signature failed, or the
ledger could not answer: never reported as "invalid"). BackendUnavailable propagates so
the Celery job can retry it with backoff.
"""

from __future__ import annotations

import contextlib
import threading
import time

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from anchoring import keys
from anchoring.backend import AnchorBackend, LedgerEntry, LocalBackend
from anchoring.checkpoint import Checkpoint, parse_checkpoint
from anchoring.leaf import Kind, decode
from anchoring.note import Verifier, parse_verifier_key
from documents import codes, entries
from documents.models import Record
from documents.public import service_events
from documents.registration import ledger_index
from verification.models import TrustedCheckpoint, Verification
from verification.steps import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    Step,
    checkpoint_step,
    consistency_step,
    digest_step,
    inclusion_step,
    leaf_step,
)

HOW = {
    Verification.Source.UPLOAD: "upload",
    Verification.Source.PHOTO: "given",
    Verification.Source.BROWSER: "browser",
}


def pinned_verifier() -> Verifier | None:
    """The log key verification trusts: LEDGER_VERIFIER_KEY, else this deployment's own."""
    if settings.LEDGER_VERIFIER_KEY:
        return parse_verifier_key(settings.LEDGER_VERIFIER_KEY)
    if settings.LEDGER_BACKEND == "local" and keys.has_signing_key():
        return keys.verifier()
    return None


def _record_step(record: Record) -> Step:
    code = codes.display(record.code)
    return Step(
        "record",
        PASSED,
        f"找到核验码 {code} 的记录：{record.court.name_zh}登记的《{record.title}》。",
        f'Found the record {code}: "{record.title}" recorded by {record.court.name_en}.',
    )


def _choose(found: list[LedgerEntry]) -> tuple[LedgerEntry, Record | None] | None:
    """The entry that records the file itself: a court record first, else a plain anchor."""
    ranked = []
    for entry in found:
        try:
            parsed = decode(entry.leaf)
        except ValueError:
            continue
        if parsed.kind == Kind.SERVICE_EVENT:
            continue  # it carries the document's digests but records an event
        record = None
        if parsed.kind == Kind.RECORD:
            code = dict(parsed.fields).get(entries.RECORD_CODE, b"").decode("ascii", "replace")
            record = Record.objects.select_related("court").filter(code=code).first()
        ranked.append((parsed.kind != Kind.RECORD, entry.index, entry, record))
    if not ranked:
        return None
    _, _, entry, record = min(ranked, key=lambda r: (r[0], r[1]))
    return entry, record


def _trusted() -> Checkpoint | None:
    row = TrustedCheckpoint.objects.order_by("-tree_size").first()
    return parse_checkpoint(row.note.split("\n\n")[0] + "\n") if row else None


def _trust(cp: Checkpoint, note: str) -> None:
    # Another verification may record the same checkpoint at the same moment.
    with contextlib.suppress(IntegrityError):
        TrustedCheckpoint.objects.get_or_create(
            tree_size=cp.size, defaults={"root_hash": cp.root_hash.hex(), "note": note}
        )
    _remember(_trusted_copy, cp, cp)


# Per process, for VERIFY_CHECKPOINT_CACHE_SECONDS: the newest checkpoint note read from
# the local ledger (once its signature verified) and the trusted checkpoint last matched,
# each as [monotonic time, checkpoint, value]. Both only move forward in a process.
_copies_lock = threading.Lock()
_latest_copy: list = []
_trusted_copy: list = []


def forget_checkpoints() -> None:
    """Drop this process's copies (tests, or a database replaced under a running process)."""
    with _copies_lock:
        _latest_copy.clear()
        _trusted_copy.clear()


def _remember(copy: list, cp: Checkpoint, value) -> None:
    if settings.VERIFY_CHECKPOINT_CACHE_SECONDS <= 0:
        return
    with _copies_lock:
        if not copy or copy[1].size <= cp.size or _stale(copy):
            copy[:] = [time.monotonic(), cp, value]


def _stale(copy: list) -> bool:
    return time.monotonic() - copy[0] >= settings.VERIFY_CHECKPOINT_CACHE_SECONDS


def _copy(copy: list) -> tuple | None:
    found = copy[:]  # one consistent read (the lock's writers replace it whole)
    if not found or settings.VERIFY_CHECKPOINT_CACHE_SECONDS <= 0 or _stale(found):
        return None
    return found[1], found[2]


def _latest_note(backend: AnchorBackend, index: int) -> tuple[str, bool]:
    """The newest checkpoint note, and whether it is this process's recent copy.

    A copy is used only for the local ledger and only when it covers the entry: the
    inclusion proof is always made to the checkpoint reported, never a newer one.
    """
    if isinstance(backend, LocalBackend):
        found = _copy(_latest_copy)
        if found is not None and index < found[0].size:
            return found[1], True
    return backend.latest_checkpoint(), False


def _trusted_for(cp: Checkpoint) -> Checkpoint | None:
    """The newest trusted checkpoint; no read when `cp` is the one this process last
    matched or recorded (same size and root), whatever has been trusted since: `cp` was
    itself proven consistent with the trust before it, and trust only grows."""
    found = _copy(_trusted_copy)
    if found is not None and found[0].size == cp.size and found[0].root_hash == cp.root_hash:
        return found[0]
    trusted = _trusted()
    if trusted is not None:
        _remember(_trusted_copy, trusted, trusted)
    return trusted


def run(v: Verification, backend: AnchorBackend) -> tuple[str, list[Step], Record | None]:
    """Check one verification; return its outcome, its steps and the record it concerns."""
    sha = bytes.fromhex(v.sha256) if v.sha256 else None
    sm = bytes.fromhex(v.sm3) if v.sm3 else None
    steps: list[Step] = []
    if sha or sm:
        steps.append(digest_step(sha, sm, HOW.get(v.source, "given")))

    record: Record | None = None
    expect: dict[int, bytes] = {}
    if v.code:
        record = Record.objects.select_related("court").filter(code=v.code).first()
        if record is None:
            steps.append(
                Step(
                    "record",
                    FAILED,
                    "没有该核验码的记录。请核对核验码是否抄写正确。",
                    "No record has this code. Check that it was copied correctly.",
                )
            )
            return Verification.Outcome.NOT_FOUND, steps, None
        steps.append(_record_step(record))
        if (sha and sha.hex() != record.sha256) or (sm and sm.hex() != record.sm3):
            steps.append(
                Step(
                    "content",
                    FAILED,
                    "您的文件与法院登记的文件不一致：哪怕只改动一个字节，摘要也会完全不同。请以法院登记的文件为准。",
                    "Your file is not identical to the one the court recorded: changing even one "
                    "byte changes the digest completely. Rely on the court's recorded file.",
                    {"recorded_sha256": record.sha256, "your_sha256": sha.hex() if sha else None},
                )
            )
            return Verification.Outcome.MISMATCH, steps, record
        if sha or sm:
            steps.append(
                Step(
                    "content",
                    PASSED,
                    "您的文件与法院登记的文件完全一致。",
                    "Your file is identical to the one the court recorded.",
                )
            )
        sha, sm = bytes.fromhex(record.sha256), bytes.fromhex(record.sm3)
        index = ledger_index(record)
        if index is None:
            steps.append(
                Step(
                    "lookup",
                    INCONCLUSIVE,
                    "该记录正在写入账本，请一分钟后再试。",
                    "The record is still being written to the ledger; try again in a minute.",
                )
            )
            return Verification.Outcome.INCONCLUSIVE, steps, record
        entry = backend.entry(index)
        expect = {
            entries.RECORD_CODE: record.code.encode(),
            entries.RECORD_COURT: record.court.code.encode(),
        }
    else:
        algorithm, digest = ("sha256", sha) if sha else ("sm3", sm)
        chosen = _choose(backend.entries_by_digest(algorithm, digest))
        if chosen is None:
            steps.append(
                Step(
                    "lookup",
                    FAILED,
                    "账本中没有任何记录登记过这个文件。它可能不是法院送达或登记的文件，或已被改动。",
                    "No ledger entry records this file. It may not be a file a court "
                    "served or recorded, or it may have been changed.",
                )
            )
            return Verification.Outcome.NOT_FOUND, steps, None
        entry, record = chosen
        steps.append(
            Step(
                "lookup",
                PASSED,
                f"账本第 {entry.index} 条记载了这个文件的摘要。",
                f"Ledger entry {entry.index} records this file's digest.",
                {"index": entry.index},
            )
        )
        if record is not None:
            steps.append(_record_step(record))

    v.ledger_index = entry.index
    step, _ = leaf_step(entry.leaf, sha, sm, expect)
    steps.append(step)
    if step.status != PASSED:
        return Verification.Outcome.INCONCLUSIVE, steps, record

    verifier = pinned_verifier()
    note, copied = _latest_note(backend, entry.index)
    if verifier is None:
        steps.append(
            Step(
                "checkpoint",
                INCONCLUSIVE,
                "本平台未配置账本公钥，无法验证检查点签名。",
                "No log key is configured on this portal, so the checkpoint's "
                "signature cannot be checked.",
            )
        )
        return Verification.Outcome.INCONCLUSIVE, steps, record
    step, cp = checkpoint_step(note, verifier)
    trusted = _trusted_for(cp) if cp is not None else None
    if trusted is not None and cp is not None and trusted.size > cp.size:
        # A newer checkpoint was trusted after this one was read (here or in another
        # process): read the log again; only a log still smaller is a rollback.
        note, copied = backend.latest_checkpoint(), False
        step, cp = checkpoint_step(note, verifier)
        trusted = _trusted_for(cp) if cp is not None else None
    steps.append(step)
    if cp is None:
        return Verification.Outcome.INCONCLUSIVE, steps, record
    if not copied and isinstance(backend, LocalBackend):
        _remember(_latest_copy, cp, note)
    v.tree_size = cp.size
    steps.append(
        inclusion_step(entry.leaf, entry.index, cp, backend.inclusion_proof(entry.index, cp.size))
    )

    if trusted is not None and trusted.size > cp.size:
        steps.append(
            Step(
                "consistency",
                FAILED,
                "账本的规模比本平台此前见到的还小：账本可能被回滚。",
                f"The ledger is smaller than this portal saw before ({cp.size} < "
                f"{trusted.size}): it may have been rolled back.",
            )
        )
    else:
        proof = backend.consistency_proof(trusted.size, cp.size) if trusted else []
        steps.append(consistency_step(trusted, cp, proof))
        if steps[-1].status == PASSED and (trusted is None or trusted.size < cp.size):
            _trust(cp, note)

    if record is not None and record.category == Record.Category.LITIGATION_DOCUMENT:
        steps += _service_steps(record, entry.index, cp, backend)

    document_steps = [s for s in steps if not s.name.startswith("service:")]
    service_failed = any(s.status == FAILED for s in steps if s.name.startswith("service:"))
    if any(s.status != PASSED for s in document_steps) or service_failed:
        return Verification.Outcome.INCONCLUSIVE, steps, record
    return Verification.Outcome.VERIFIED, steps, record


def _service_steps(
    record: Record, record_index: int, cp: Checkpoint, backend: AnchorBackend
) -> list[Step]:
    """Each service event proven like the document: its leaf, and its inclusion."""
    steps = []
    numbers = {e.value: entries.EventType[e.name] for e in record.events.model.Event}
    for event in service_events(record):  # kept on the record for the answer's timeline
        name = f"service:{event.event}"
        index = ledger_index(event)
        label = event.get_event_display()
        if index is None or index >= cp.size:
            steps.append(
                Step(
                    name,
                    INCONCLUSIVE,
                    f"送达事件“{label}”正在写入账本，稍后可核验。",
                    f'The service event "{label}" is still being written to the ledger.',
                )
            )
            continue
        data = backend.entry(index).leaf
        expect = {
            entries.EVENT_TYPE: bytes([numbers[event.event]]),
            entries.EVENT_RECORD_CODE: record.code.encode(),
            entries.EVENT_RECORD_INDEX: record_index.to_bytes(8, "big"),
        }
        leaf, _ = leaf_step(data, bytes.fromhex(record.sha256), bytes.fromhex(record.sm3), expect)
        if leaf.status != PASSED:
            steps.append(
                Step(
                    name,
                    FAILED,
                    f"送达事件“{label}”的账本条目与记录不符。",
                    f'The ledger entry of the service event "{label}" does not match the record.',
                )
            )
            continue
        proven = inclusion_step(data, index, cp, backend.inclusion_proof(index, cp.size), name)
        if proven.status == PASSED:
            when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M %Z")
            proven.zh = f"送达事件“{label}”（{when}）已在账本第 {index} 条得到证明。"
            proven.en = f'Service event "{label}" ({when}) is proven by ledger entry {index}.'
        steps.append(proven)
    return steps
