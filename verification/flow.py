"""A verification, step by step: find what the ledger says about a file or a record code,
and prove it from signed checkpoints and Merkle proofs, trusting no server answer.

Outcomes: verified; not_found (no record has this digest or code); mismatch (the record
exists and the file differs from it); conflict (the portal's rows about the record
disagree with the ledger); inconclusive (a proof or signature failed, or the ledger could
not answer: never reported as "invalid"). BackendUnavailable propagates so the Celery job
can retry it with backoff.

run() is made of three parts: find the entry (by record code or by digest), prove it
(leaf, checkpoint, inclusion, consistency), prove each service event. A part that ends the
verification early raises _Finished with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from django.conf import settings
from django.utils import timezone

from anchoring.backend import BackendUnavailable, LedgerBackend, LedgerEntry
from anchoring.checkpoint import Checkpoint
from anchoring.leaf import Kind, decode, subject
from documents import codes, entries
from documents.models import Record
from plumbing.bilingual import half
from verification import chain_anchor, trust, trusted_time
from verification.models import Verification
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
    quorum_step,
    unavailable_step,
)

HOW: dict[str, str] = {
    Verification.Source.UPLOAD: "upload",
    Verification.Source.PHOTO: "given",
    Verification.Source.BROWSER: "browser",
}
Outcome = Verification.Outcome


class _Finished(Exception):
    """A part of run() decided the outcome before the end."""

    def __init__(self, outcome: str, record: Record | None = None) -> None:
        super().__init__(outcome)
        self.outcome, self.record = outcome, record


@dataclass
class _Found:
    """What the ledger holds for a verification: the entry to prove, the record's check
    (None for a plain anchor), the digests it must commit to, fields it must carry."""

    entry: LedgerEntry
    check: RecordCheck | None
    sha256: bytes | None
    sm3: bytes | None
    expect: dict[int, bytes] = field(default_factory=dict)

    @property
    def record(self) -> Record | None:
        return self.check.record if self.check else None


def run(v: Verification, backend: LedgerBackend) -> tuple[str, list[Step], Record | None]:
    """Check one verification; return its outcome, its steps and the record it concerns.

    The record's check against the ledger (RecordCheck) is kept on `v.record_check` for
    the answer to show what the ledger proves.
    """
    steps: list[Step] = []
    try:
        found = _find(v, backend, steps)
        v.record_check = found.check
        v.ledger_index = found.entry.index
        cp = _prove(v, found, backend, steps)
        if found.check is not None:
            steps += _service_steps(found.check, cp, backend)
    except _Finished as done:
        return done.outcome, steps, done.record
    return _outcome(steps), steps, found.record


def _addition(step: Step) -> bool:
    """A step that adds to the document's proof without being part of it: a service event,
    trusted time (pending until a TSA has timestamped a covering checkpoint) and the chain
    anchor (pending until one is confirmed; could not check without a node)."""
    return step.name.startswith("service:") or step.name in (trusted_time.NAME, chain_anchor.NAME)


def _outcome(steps: list[Step]) -> str:
    """Verified only if every step of the document passed and no addition failed: a
    service event still being written, or trusted time still pending, is inconclusive
    without changing the outcome; evidence that fails its check is never passed over."""
    document = [s for s in steps if not _addition(s)]
    addition_failed = any(s.status == FAILED for s in steps if _addition(s))
    if any(s.status != PASSED for s in document) or addition_failed:
        return Outcome.INCONCLUSIVE
    return Outcome.VERIFIED


def _find(v: Verification, backend: LedgerBackend, steps: list[Step]) -> _Found:
    """The entry a verification is about, with the steps that found it."""
    sha = bytes.fromhex(v.sha256) if v.sha256 else None
    sm = bytes.fromhex(v.sm3) if v.sm3 else None
    if sha or sm:
        steps.append(digest_step(sha, sm, HOW.get(v.source, "given")))
    if v.code:
        return _find_by_code(v, sha, sm, backend, steps)
    return _find_by_digest(sha, sm, backend, steps)


def _find_by_code(
    v: Verification, sha: bytes | None, sm: bytes | None, backend: LedgerBackend, steps
) -> _Found:
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
        raise _Finished(Outcome.NOT_FOUND)
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
        raise _Finished(Outcome.INCONCLUSIVE, record)
    if not check.agrees:
        _conflict(check, steps)
    steps.append(_record_step(check))
    assert check.entry is not None and check.leaf is not None  # it agrees with its entry
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
        raise _Finished(Outcome.MISMATCH, record)
    if sha or sm:
        steps.append(
            Step(
                "content",
                PASSED,
                "您的文件与法院登记的文件完全一致。",
                "Your file is identical to the one the court recorded.",
            )
        )
    expect = {
        entries.RECORD_CODE: record.code.encode(),
        entries.RECORD_COURT: record.court.code.encode(),
    }
    return _Found(check.entry, check, recorded_sha, recorded_sm, expect)


def _find_by_digest(
    sha: bytes | None, sm: bytes | None, backend: LedgerBackend, steps: list[Step]
) -> _Found:
    algorithm, digest = ("sha256", sha) if sha else ("sm3", sm)
    assert digest is not None  # a verification without a code gives a digest
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
        raise _Finished(Outcome.NOT_FOUND)
    entry, check, reused = chosen
    if entry is None:
        # Found only in entries that reuse another record's code: never this record.
        _conflict(reused[0], steps)
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
            _conflict(check, steps)
        steps.append(_record_step(check))
    return _Found(entry, check, sha, sm)


def _prove(v: Verification, found: _Found, backend: LedgerBackend, steps: list[Step]) -> Checkpoint:
    """The entry's leaf, the signed checkpoint, the entry's inclusion in it and the log's
    consistency with the checkpoint trusted before; the checkpoint, once all passed."""
    entry, record = found.entry, found.record
    step, _ = leaf_step(entry.leaf, found.sha256, found.sm3, found.expect)
    steps.append(step)
    if step.status != PASSED:
        raise _Finished(Outcome.INCONCLUSIVE, record)

    pinned = trust.pinned()
    if pinned is None:
        steps.append(
            Step(
                "checkpoint",
                INCONCLUSIVE,
                "本平台未配置账本公钥，无法验证检查点签名。",
                "No log key is configured on this portal, so the checkpoint's "
                "signature cannot be checked.",
            )
        )
        raise _Finished(Outcome.INCONCLUSIVE, record)
    verifier = pinned.log
    note, copied = trust.latest_note(backend, entry.index)
    step, cp = checkpoint_step(note, verifier)
    trusted = trust.trusted_for(cp) if cp is not None else None
    if trusted is not None and cp is not None and trusted.size > cp.size:
        # A newer checkpoint was trusted after this one was read (here or in another
        # process): read the log again; only a log still smaller is a rollback.
        note, copied = backend.latest_checkpoint(), False
        step, cp = checkpoint_step(note, verifier)
        trusted = trust.trusted_for(cp) if cp is not None else None
    steps.append(step)
    if cp is None:
        raise _Finished(Outcome.INCONCLUSIVE, record)
    steps.append(quorum_step(note, pinned.policy))
    if steps[-1].status != PASSED:
        raise _Finished(Outcome.INCONCLUSIVE, record)
    if not copied:
        trust.latest_copy.keep(cp, note)
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
        raise _Finished(Outcome.INCONCLUSIVE, record)
    steps.append(
        inclusion_step(entry.leaf, entry.index, cp, backend.inclusion_proof(entry.index, cp.size))
    )
    steps.append(_consistency(cp, note, trusted, backend))
    if all(s.status == PASSED for s in steps[-2:]):
        steps.append(_trusted_time(entry, cp, backend, pinned.policy.tsa_cas))
        anchored = _chain_anchor(entry, cp, backend)
        if anchored is not None:
            steps.append(anchored)
    return cp


def _chain_anchor(entry: LedgerEntry, cp: Checkpoint, backend: LedgerBackend) -> Step | None:
    """ "Anchored in block B of chain C at T": the first anchored checkpoint covering the
    entry, proven in the history of `cp`, its transaction read back from the configured
    node (chain_anchor). None when no chain is configured and the ledger has no anchor."""
    from anchoring import chain

    try:
        got = backend.covering_chain_anchors(entry.index)
        evidence = None
        if got is not None and got[0] <= cp.size and (note := backend.checkpoint(got[0])):
            size, anchors = got
            evidence = chain_anchor.Evidence(
                note,
                backend.inclusion_proof(entry.index, size),
                backend.consistency_proof(size, cp.size) if size < cp.size else [],
                [(a.chain_id, a.transaction_hash) for a in anchors],
            )
    except BackendUnavailable as exc:
        if not settings.LEDGER_CHAIN_RPC_URL:
            return None
        return unavailable_step(chain_anchor.NAME, str(exc))
    url = settings.LEDGER_CHAIN_RPC_URL
    if not url and evidence is None:
        return None
    node = chain.Node(url, settings.LEDGER_CHAIN_TIMEOUT) if url else None
    return chain_anchor.step(
        entry.index,
        entry.leaf,
        cp,
        evidence,
        node,
        settings.LEDGER_CHAIN_CONFIRMATIONS,
        settings.LEDGER_CHAIN_ID if url else None,
        settings.DEMO_CHAIN,
    )


def _trusted_time(
    entry: LedgerEntry, cp: Checkpoint, backend: LedgerBackend, pinned: set[str]
) -> Step:
    """ "No later than T": the earliest timestamped checkpoint covering the entry, proven in
    the history of `cp` (trusted_time). A ledger that cannot answer leaves it pending."""
    court_time = trusted_time.shown(decode(entry.leaf).time)
    try:
        got = backend.covering_timestamps(entry.index)
        covering = None
        if got is not None and got[0] <= cp.size and (note := backend.checkpoint(got[0])):
            size, stamps = got
            covering = trusted_time.Covering(
                note,
                backend.inclusion_proof(entry.index, size),
                backend.consistency_proof(size, cp.size) if size < cp.size else [],
                [(t.token, t.ca) for t in stamps],
            )
    except BackendUnavailable as exc:
        return unavailable_step(trusted_time.NAME, str(exc))
    return trusted_time.step(entry.index, entry.leaf, cp, covering, pinned, court_time)


def _consistency(
    cp: Checkpoint, note: str, trusted: Checkpoint | None, backend: LedgerBackend
) -> Step:
    """The log only grew since the checkpoint trusted before; `cp` is trusted from now on."""
    if trusted is not None and trusted.size > cp.size:
        return Step(
            "consistency",
            FAILED,
            "账本的规模比本平台此前见到的还小：账本可能被回滚。",
            f"The ledger is smaller than this portal saw before ({cp.size} < "
            f"{trusted.size}): it may have been rolled back.",
        )
    proof = backend.consistency_proof(trusted.size, cp.size) if trusted else []
    step = consistency_step(trusted, cp, proof)
    if step.status == PASSED and (trusted is None or trusted.size < cp.size):
        trust.trust(cp, note)
    return step


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
    found: list[LedgerEntry], backend: LedgerBackend
) -> tuple[LedgerEntry | None, RecordCheck | None, list[RecordCheck]] | None:
    """The entry that records the file itself, and the check of its record.

    A court record's registration entry first (the first entry naming its code), else a
    plain anchor. A record entry that is not its code's registration (a later entry
    reusing the code) never counts: such checks come back as the third value.
    """
    records: list[tuple[LedgerEntry, str]] = []
    anchors: list[LedgerEntry] = []
    reused: list[RecordCheck] = []
    for entry in sorted(found, key=lambda e: e.index):
        try:
            parsed = decode(entry.leaf)
        except ValueError:
            continue
        if parsed.kind == Kind.RECORD and (code := subject(parsed)) is not None:
            records.append((entry, code))
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


def _about(backend: LedgerBackend, code: str) -> list:
    return entries_about(backend.entries_by_subject(code), code)


def _conflict(check: RecordCheck, steps: list[Step]) -> NoReturn:
    """The portal's rows disagree with the ledger: never verified; the operator is told."""
    alarm(check)
    steps.append(conflict_step(check))
    raise _Finished(Outcome.CONFLICT, check.record)


def _service_steps(check: RecordCheck, cp: Checkpoint, backend: LedgerBackend) -> list[Step]:
    """Each service event proven like the document: its entry, matched byte for byte with
    its row (record_check), and the entry's inclusion under the same checkpoint."""
    steps = []
    for event in check.events:
        if event.entry is None or event.entry.index >= cp.size:
            assert event.row is not None  # an entry not yet under cp is a row's
            label = event.row.get_event_display()
            zh, en = half(label, "zh"), half(label, "en")
            steps.append(
                Step(
                    f"service:{event.row.event}",
                    INCONCLUSIVE,
                    f"送达事件“{zh}”正在写入账本，稍后可核验。",
                    f'The service event "{en}" is still being written to the ledger.',
                )
            )
            continue
        index, data = event.entry.index, event.entry.leaf
        shown = public_step(event)
        name = f"service:{shown['event']}"
        proven = inclusion_step(data, index, cp, backend.inclusion_proof(index, cp.size), name)
        if proven.status == PASSED:
            when = timezone.localtime(shown["occurred_at"]).strftime("%Y-%m-%d %H:%M %Z")
            zh, en = half(shown["label"], "zh"), half(shown["label"], "en")
            proven.zh = f"送达事件“{zh}”（{when}）已在账本第 {index} 条得到证明。"
            proven.en = f'Service event "{en}" ({when}) is proven by ledger entry {index}.'
        steps.append(proven)
    return steps
