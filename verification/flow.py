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

from anchoring import alarms, keys
from anchoring.backend import AnchorBackend, LedgerEntry, LocalBackend
from anchoring.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from anchoring.leaf import Kind, decode, subject
from anchoring.note import NoteError, Verifier, parse_verifier_key
from documents import codes, entries
from documents.models import Record
from verification.models import TrustedCheckpoint, Verification
from verification.record_check import (
    RecordCheck,
    alarm,
    check_record,
    disagreement_words,
    entries_about,
    public_face,
    public_step,
)
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


def _record_step(check: RecordCheck) -> Step:
    """The record found, in the ledger's words: court from its entry, title where proven."""
    code = codes.display(check.record.code)
    shown = public_face(check)
    court = shown["court"] or {"name_zh": "", "name_en": ""}
    title_zh = f"《{shown['title']}》" if shown["title"] else "文件"
    title_en = f'"{shown["title"]}"' if shown["title"] else "a file"
    return Step(
        "record",
        PASSED,
        f"找到核验码 {code} 的记录：{court['name_zh']}登记的{title_zh}。",
        f"Found the record {code}: {title_en} recorded by {court['name_en']}.",
    )


def conflict_step(check: RecordCheck) -> Step:
    """The portal's rows disagree with the ledger: say so, and whom to ask."""
    zh_what, en_what = disagreement_words(check)
    code = codes.display(check.record.code)
    contact = settings.PORTAL_CONTACT
    return Step(
        "ledger_agreement",
        FAILED,
        f"本平台保存的记录 {code} 与法院账本不一致（{zh_what}）。请勿依赖本页显示的该记录信息；"
        f"请以法院送达的文书为准，并联系作出该文书的法院"
        f"{'或本平台（' + contact + '）' if contact else '或本平台管理员'}。运维人员已收到警报。",
        f"The portal's copy of record {code} disagrees with the court's ledger ({en_what}). "
        f"Do not rely on the record details shown here; rely on the document the court "
        f"served, and contact that court or "
        f"{'this portal (' + contact + ')' if contact else 'the portal administrator'}. "
        "The operators have been alerted.",
        {"differences": check.differences, "problems": check.problems()},
    )


def _choose(
    found: list[LedgerEntry], backend: AnchorBackend
) -> tuple[LedgerEntry, RecordCheck | None, list[RecordCheck]] | None:
    """The entry that records the file itself, and the check of its record.

    A court record's registration entry first (the first entry naming its code), else a
    plain anchor. A record entry that is not its code's registration (a later entry
    reusing the code) never counts: such checks come back as the third value.
    """
    records, anchors, reused = [], [], []
    for entry in sorted(found, key=lambda e: e.index):
        try:
            parsed = decode(entry.leaf)
        except ValueError:
            continue
        if parsed.kind == Kind.RECORD:
            records.append((entry, subject(parsed)))
        elif parsed.kind == Kind.ANCHOR:
            anchors.append(entry)
    for entry, code in records:
        record = Record.objects.select_related("court").filter(code=code).first()
        if record is None:
            # A deployment reading another's ledger has no rows: the leaf speaks alone,
            # if it is its code's first entry.
            first = [e for e, leaf in _about(backend, code) if leaf.kind == Kind.RECORD][:1]
            if first and first[0].index == entry.index:
                return entry, None, reused
            continue
        check = check_record(record, backend)
        if check.entry is not None and check.entry.index == entry.index:
            return entry, check, reused
        reused.append(check)
    if anchors:
        return anchors[0], None, reused
    return None if not reused else (None, None, reused)


def _about(backend: AnchorBackend, code: str) -> list:
    return entries_about(backend.entries_by_subject(code), code)


def _trusted() -> Checkpoint | None:
    """The newest trusted checkpoint whose note the pinned log key signs.

    A row is the portal's own memory, and the database is not trusted: a row whose note
    does not verify is skipped with an alarm, never used to judge the ledger.
    """
    verifier = pinned_verifier()
    for row in TrustedCheckpoint.objects.order_by("-tree_size")[: settings.VERIFY_TRUSTED_SCAN]:
        try:
            cp = open_checkpoint(row.note, verifier, origin=verifier.name)
        except (NoteError, CheckpointError, AttributeError) as exc:
            alarms.raise_alarm(
                alarms.Alarm.Source.VERIFICATION,
                f"a trusted checkpoint row does not verify with the log key ({exc}); skipped",
                subject=f"trusted checkpoint {row.tree_size}",
            )
            continue
        if cp.size == row.tree_size and cp.root_hash.hex() == row.root_hash:
            return cp
        alarms.raise_alarm(
            alarms.Alarm.Source.VERIFICATION,
            "a trusted checkpoint row does not hold what its note signs; skipped",
            subject=f"trusted checkpoint {row.tree_size}",
        )
    return None


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
    """Check one verification; return its outcome, its steps and the record it concerns.

    The record's check against the ledger (RecordCheck) is kept on `v.record_check` for
    the answer to show what the ledger proves.
    """
    sha = bytes.fromhex(v.sha256) if v.sha256 else None
    sm = bytes.fromhex(v.sm3) if v.sm3 else None
    steps: list[Step] = []
    if sha or sm:
        steps.append(digest_step(sha, sm, HOW.get(v.source, "given")))

    check: RecordCheck | None = None
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
        check = v.record_check = check_record(record, backend)
        if check.pooled:
            steps.append(
                Step(
                    "lookup",
                    INCONCLUSIVE,
                    "该记录正在写入账本，请一分钟后再试。",
                    "The record is still being written to the ledger; try again in a minute.",
                )
            )
            return Verification.Outcome.INCONCLUSIVE, steps, record
        if not check.agrees:
            return _conflict(check, steps)
        steps.append(_record_step(check))
        recorded_sha, recorded_sm = check.leaf.sha256, check.leaf.sm3
        if (sha and sha != recorded_sha) or (sm and sm != recorded_sm):
            steps.append(
                Step(
                    "content",
                    FAILED,
                    "您的文件与法院登记的文件不一致：哪怕只改动一个字节，摘要也会完全不同。请以法院登记的文件为准。",
                    "Your file is not identical to the one the court recorded: changing even one "
                    "byte changes the digest completely. Rely on the court's recorded file.",
                    {
                        "recorded_sha256": recorded_sha.hex(),
                        "your_sha256": sha.hex() if sha else None,
                    },
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
        sha, sm = recorded_sha, recorded_sm
        entry = check.entry
        expect = {
            entries.RECORD_CODE: record.code.encode(),
            entries.RECORD_COURT: record.court.code.encode(),
        }
    else:
        algorithm, digest = ("sha256", sha) if sha else ("sm3", sm)
        chosen = _choose(backend.entries_by_digest(algorithm, digest), backend)
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
        entry, check, reused = chosen
        if entry is None:
            # Found only in entries that reuse another record's code: never this record.
            return _conflict(reused[0], steps)
        v.record_check = check
        steps.append(
            Step(
                "lookup",
                PASSED,
                f"账本第 {entry.index} 条记载了这个文件的摘要。",
                f"Ledger entry {entry.index} records this file's digest.",
                {"index": entry.index},
            )
        )
        if check is not None:
            if not check.agrees:
                return _conflict(check, steps)
            steps.append(_record_step(check))
    record = check.record if check else None

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
    if entry.index >= cp.size:
        # Entries commit with their batch's checkpoint: one beyond the signed tree was not
        # written by the sequencer, and nothing can prove it.
        steps.append(
            Step(
                "inclusion",
                FAILED,
                f"账本第 {entry.index} 条不在已签名的账本（共 {cp.size} 条）之内，无法证明。",
                f"Ledger entry {entry.index} lies beyond the signed ledger ({cp.size} entries), "
                "so nothing proves it.",
                {"index": entry.index, "tree_size": cp.size},
            )
        )
        return Verification.Outcome.INCONCLUSIVE, steps, record
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

    if check is not None:
        steps += _service_steps(check, cp, backend)

    document_steps = [s for s in steps if not s.name.startswith("service:")]
    service_failed = any(s.status == FAILED for s in steps if s.name.startswith("service:"))
    if any(s.status != PASSED for s in document_steps) or service_failed:
        return Verification.Outcome.INCONCLUSIVE, steps, record
    return Verification.Outcome.VERIFIED, steps, record


def _conflict(check: RecordCheck, steps: list[Step]) -> tuple[str, list[Step], Record]:
    """The portal's rows disagree with the ledger: never verified; the operator is told."""
    alarm(check)
    steps.append(conflict_step(check))
    return Verification.Outcome.CONFLICT, steps, check.record


def _service_steps(check: RecordCheck, cp: Checkpoint, backend: AnchorBackend) -> list[Step]:
    """Each service event proven like the document: its entry, matched byte for byte with
    its row (record_check), and the entry's inclusion under the same checkpoint."""
    steps = []
    for event in check.events:
        if event.entry is None or event.entry.index >= cp.size:
            label = event.row.get_event_display()
            steps.append(
                Step(
                    f"service:{event.row.event}",
                    INCONCLUSIVE,
                    f"送达事件“{label}”正在写入账本，稍后可核验。",
                    f'The service event "{label}" is still being written to the ledger.',
                )
            )
            continue
        index, data = event.entry.index, event.entry.leaf
        shown = public_step(event)
        name = f"service:{shown['event']}"
        proven = inclusion_step(data, index, cp, backend.inclusion_proof(index, cp.size), name)
        if proven.status == PASSED:
            when = timezone.localtime(shown["occurred_at"]).strftime("%Y-%m-%d %H:%M %Z")
            label = shown["label"]
            proven.zh = f"送达事件“{label}”（{when}）已在账本第 {index} 条得到证明。"
            proven.en = f'Service event "{label}" ({when}) is proven by ledger entry {index}.'
        steps.append(proven)
    return steps
