"""The sequencer: submissions are pooled, then integrated into the log in batches.

As in Sunlight and Trillian Tessera, a submitter's leaf is first committed to a pool
(the Submission table), then a batch takes up to LEDGER_BATCH_SIZE pooled leaves and, in
one short transaction, writes their entries, the tiles they complete and a newly signed
checkpoint, and removes them from the pool. A crash before that commit leaves the pool
as it was; nothing acknowledged is lost and no index is skipped. Two sequencers never
fork the log: on PostgreSQL a transaction-level advisory lock serialises batches, on
SQLite the IMMEDIATE transaction does, and the primary keys on entry index and
checkpoint size refuse a second writer of the same position in any case.

The database is not trusted to have kept what was signed: before each batch the
sequencer checks that the stored right edge reproduces the root of its newest signed
checkpoint (and that no checkpoint it signed has gone), and that every pooled leaf is
well formed. On a mismatch it signs nothing and raises LedgerCorrupted, with an alarm
naming the first index that no longer reproduces, so that nothing it signed before is
ever contradicted by a new checkpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from anchoring import (
    alarms,
    chain_anchors,
    keys,
    leaf,
    merkle,
    metrics,
    publisher,
    store,
    timestamps,
)
from anchoring.checkpoint import Checkpoint as CheckpointBody
from anchoring.checkpoint import CheckpointError, open_checkpoint, sign_checkpoint
from anchoring.models import Checkpoint, Entry, PublishedCheckpoint, Submission, Tile
from anchoring.note import NoteError
from anchoring.tiles import edge_reader, grow, tree_root
from plumbing import bulk

log = logging.getLogger(__name__)

# Any fixed 64-bit number; it names the advisory lock that serialises batches.
_ADVISORY_LOCK_ID = 0x4A564C_5345510  # any fixed number, the same in every process
_IDS_PER_STATEMENT = 900  # under SQLite's bound-parameter limit
# A waiter poll reads the entries added since its last poll, unless there are more than
# this many (a long pause): then it looks its submissions up by id instead.
_RANGE_LIMIT = 50_000


# Sent inside a batch's transaction with `first` and `end`, the indexes it added
# [first, end): apps that keep a row per submission note where it landed in the same
# commit, without anchoring knowing them (the documents app fills ledger_index).
integrated = Signal()


class SubmissionTimeout(TimeoutError):
    """The submission was pooled but not integrated within LEDGER_SUBMIT_TIMEOUT."""


# The subject of the sequencer's alarm that the stored log is corrupted (/health's test).
CORRUPTION_SUBJECT = "ledger"


class LedgerCorrupted(RuntimeError):
    """The stored log no longer reproduces what the sequencer signed; nothing is signed
    until an operator has repaired it (ledger_fsck names what differs)."""

    def __init__(self, message: str, first_bad_index: int | None) -> None:
        super().__init__(message)
        self.first_bad_index = first_bad_index


class SubmissionAltered(RuntimeError):
    """The entry integrated for a submission is not the leaf that was submitted: the pool
    row was changed while it waited. The submitter must not hand out a receipt."""


@dataclass(frozen=True)
class Receipt:
    """What a submitter gets back: where its leaf is, and the proof that it is there."""

    index: int
    leaf_hash: bytes
    tree_size: int
    inclusion_proof: list[bytes]
    checkpoint: str  # the signed note of the checkpoint of size tree_size


def submit(entry: leaf.Leaf) -> int:
    """Pool a leaf for integration and return its submission id.

    The pool row commits with the caller's transaction, so a record and its ledger
    submission are written together or not at all.
    """
    data = entry.encode()
    submission = Submission.objects.create(data=data)
    if settings.LEDGER_SEQUENCER == "thread":
        start_thread()
    return submission.pk


def submit_many(entries: list[leaf.Leaf]) -> list[int]:
    """Pool several leaves with one INSERT; return their submission ids, in order.

    Like submit(), the rows commit with the caller's transaction; ids ascend, so the
    leaves are integrated in this order.
    """
    rows = [Submission(data=entry.encode()) for entry in entries]
    bulk.insert(Submission, rows)
    if settings.LEDGER_SEQUENCER == "thread":
        start_thread()
    return [row.pk for row in rows]


def wait(
    submission_id: int, timeout: float | None = None, *, expected: bytes | None = None
) -> Receipt:
    """Block until the submission is integrated, then return its receipt.

    With `expected` (the leaf that was submitted), SubmissionAltered instead of a receipt
    if the entry is not that leaf. The waiting thread gives back its database connection:
    one poller per process looks for every waiting submission at once and builds their
    receipts against one checkpoint (see _Waiters), so hundreds of requests waiting for
    the next batch cost a few queries per poll, not several each.
    """
    return wait_many([submission_id], timeout, expected=None if expected is None else [expected])[0]


def wait_many(
    submission_ids: list[int],
    timeout: float | None = None,
    *,
    expected: list[bytes] | None = None,
) -> list[Receipt]:
    """Block until every one of these submissions is integrated; their receipts, in order.

    One wait for all (a batch registration's records): they are found by the same polls
    and usually land in the same batch. SubmissionTimeout if any is still pooled after
    `timeout` (LEDGER_SUBMIT_TIMEOUT by default); SubmissionAltered (with an alarm) if
    `expected` gives the leaves submitted and an entry is not byte for byte its leaf.
    """
    if connection.in_atomic_block:
        # The pool rows would not be visible to the sequencer before this block commits.
        raise RuntimeError("wait() inside a transaction can never see its submission integrated")
    connection.close()
    limit = settings.LEDGER_SUBMIT_TIMEOUT if timeout is None else timeout
    found = _waiters.wait(submission_ids, limit)
    missing = [s for s in submission_ids if s not in found]
    if missing:
        raise SubmissionTimeout(
            f"{len(missing)} submission(s) not integrated in time, the first {missing[0]}"
        )
    receipts = [found[s] for s in submission_ids]
    for receipt, data in zip(receipts, expected or [], strict=False):
        if receipt.leaf_hash != merkle.leaf_hash(data):
            alarms.raise_alarm(
                alarms.Alarm.Source.SUBMITTER,
                "the entry integrated for a submission is not the leaf that was submitted: "
                "its pool row was changed; no receipt was given",
                subject=f"entry {receipt.index}",
                index=receipt.index,
            )
            raise SubmissionAltered(
                f"ledger entry {receipt.index} is not the leaf that was submitted"
            )
    return receipts


class _Waiters:
    """The submissions this process waits for, and the one thread that polls for them.

    A poll reads the newest checkpoint; only when the tree has grown does it read the
    entries added since the last poll (a range of the primary key). Submissions that
    started waiting since the last poll are looked up by id once, in case their entry
    was integrated before they waited. So hundreds of waiting requests cost one small
    query per poll, not an IN list of all of them 20 times a second.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Several threads may wait for the same submission (a retried request, say).
        self._events: dict[int, list[threading.Event]] = {}
        self._found: dict[int, Receipt] = {}
        self._new: set[int] = set()  # waiting since the last poll: looked up by id
        # The tree size the last poll read (entries below it were looked at), or None.
        self._size: int | None = None
        self._poller: threading.Thread | None = None

    def wait(self, submission_ids: list[int], timeout: float) -> dict[int, Receipt]:
        """The receipts of those of these submissions integrated within `timeout`."""
        events = {submission_id: threading.Event() for submission_id in submission_ids}
        with self._lock:
            for submission_id, event in events.items():
                self._events.setdefault(submission_id, []).append(event)
                self._new.add(submission_id)
            if self._poller is None or not self._poller.is_alive():
                self._poller = threading.Thread(target=self._poll, name="ledger-waiters")
                self._poller.daemon = True
                self._poller.start()
        deadline = time.monotonic() + timeout
        for event in events.values():
            if not event.wait(max(0.0, deadline - time.monotonic())):
                break
        found = {}
        with self._lock:
            for submission_id, event in events.items():
                if submission_id in self._found:
                    found[submission_id] = self._found[submission_id]
                waiting = self._events[submission_id]
                waiting.remove(event)
                if not waiting:
                    del self._events[submission_id]
                    self._found.pop(submission_id, None)
        return found

    def _poll(self) -> None:
        while True:
            time.sleep(settings.LEDGER_SUBMIT_POLL)
            with self._lock:
                waiting = {s for s in self._events if s not in self._found}
                new, self._new = self._new & waiting, set()
            if not waiting:
                self._size = None  # the next waiter starts afresh, however far the log grew
                connection.close()  # idle: give the connection back
                continue
            try:
                found, size = _receipts_of(waiting, new, self._size)
            except Exception:
                log.exception("looking for integrated submissions failed; retrying")
                with self._lock:
                    self._new |= new  # look them up again next time
                connection.close()
                continue
            ready = []
            with self._lock:
                self._size = size
                for submission_id, found_receipt in found:
                    if submission_id in self._events:
                        self._found[submission_id] = found_receipt
                        ready += self._events[submission_id]
            # Outside the lock: each woken waiter takes it at once to clean up after itself.
            for event in ready:
                event.set()


_waiters = _Waiters()


def _receipts_of(
    waiting: set[int], new: set[int], seen_size: int | None
) -> tuple[list[tuple[int, Receipt]], int | None]:
    """Receipts of the integrated ones among the waiting submissions, and the tree size
    they were looked for in (the next call's `seen_size`).

    Entries below `seen_size` were looked for already, except for the `new` waiters (all
    of them are looked up by id when `seen_size` is None or far behind). The
    checkpoint is read first: an entry commits with the checkpoint of its batch, so every
    entry below its size is visible, and one found above it (a batch committed meanwhile)
    is left for the next call, whose range covers it. Proofs are computed together, so
    the tiles are read once per poll.
    """
    cp = store.latest_checkpoint()
    if cp is None:
        return [], None
    if seen_size is None or cp.tree_size - seen_size > _RANGE_LIMIT:
        new, seen_size = waiting, cp.tree_size
    rows = []
    if cp.tree_size > seen_size:
        added = Entry.objects.filter(index__gte=seen_size, index__lt=cp.tree_size)
        rows += [
            row
            for row in added.values_list("submission", "index", "data")
            if row[0] in waiting and row[0] not in new
        ]
    ids = sorted(new)
    for i in range(0, len(ids), _IDS_PER_STATEMENT):
        found = Entry.objects.filter(submission__in=ids[i : i + _IDS_PER_STATEMENT])
        found = found.filter(index__lt=cp.tree_size)
        rows += found.values_list("submission", "index", "data")
    if not rows:
        return [], cp.tree_size
    proofs = store.inclusion_proofs([index for _, index, _ in rows], cp.tree_size)
    return [
        (submission_id, _receipt(index, bytes(data), cp, proof))
        for (submission_id, index, data), proof in zip(rows, proofs, strict=True)
        if submission_id is not None  # always: each row was found by its submission
    ], cp.tree_size


def index_of(submission_id: int) -> int | None:
    """The ledger index a submission was given, or None while it is pooled."""
    return Entry.objects.filter(submission=submission_id).values_list("index", flat=True).first()


def receipt(index: int) -> Receipt | None:
    """The receipt of an integrated entry against the newest published checkpoint; None
    while no published checkpoint covers it yet (its witnesses have not cosigned)."""
    cp = store.latest_checkpoint()
    if cp is None or index >= cp.tree_size:
        return None
    data = bytes(Entry.objects.values_list("data", flat=True).get(index=index))
    return _receipt(index, data, cp, store.inclusion_proof(index, cp.tree_size))


def _receipt(index: int, data: bytes, cp: PublishedCheckpoint, proof: list[bytes]) -> Receipt:
    return Receipt(
        index=index,
        leaf_hash=merkle.leaf_hash(data),
        tree_size=cp.tree_size,
        inclusion_proof=proof,
        checkpoint=cp.note,
    )


def submit_and_wait(entry: leaf.Leaf, timeout: float | None = None) -> Receipt:
    """Pool a leaf, wait for its batch, and return the receipt (checked to be that leaf)."""
    return wait(submit(entry), timeout, expected=entry.encode())


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])


def _sign(size: int, root: bytes) -> str:
    return sign_checkpoint(CheckpointBody(settings.LEDGER_ORIGIN, size, root), keys.signer())


# The largest tree this process has signed: a newest stored checkpoint smaller than it
# means signed checkpoints were removed (a rollback), which must not be signed over.
_signed_size = 0


def forget_signed() -> None:
    """Forget the largest tree this process signed: only for a database replaced under a
    running process (tests, a restored backup), whose log may rightly be smaller."""
    global _signed_size
    _signed_size = 0


def integrate(batch_size: int | None = None) -> int:
    """Integrate one batch of pooled leaves; return how many entries were added.

    Also writes the empty tree's checkpoint the first time, so a new log has a head.
    Raises LedgerCorrupted (after raising an alarm) when the stored log does not
    reproduce its newest signed checkpoint.
    """
    try:
        return metrics.timed_batch(_integrate, batch_size or settings.LEDGER_BATCH_SIZE)
    except LedgerCorrupted as exc:
        alarms.raise_alarm(
            alarms.Alarm.Source.SEQUENCER,
            f"the ledger is corrupted, nothing is signed: {exc}",
            subject=CORRUPTION_SUBJECT,
            index=exc.first_bad_index,
        )
        raise


def check_head(latest: Checkpoint) -> dict[int, list[bytes]]:
    """The stored right edge of the newest checkpoint's tree, read fresh from the database.

    Raises LedgerCorrupted unless that checkpoint is signed by this log's key and the edge
    reproduces its root.
    """
    try:
        cp = open_checkpoint(latest.note, keys.verifier(), origin=settings.LEDGER_ORIGIN)
    except (NoteError, CheckpointError) as exc:
        raise LedgerCorrupted(
            f"checkpoint {latest.tree_size} does not verify with the log key ({exc})",
            latest.tree_size,
        ) from None
    if cp.size != latest.tree_size or bytes(latest.root_hash) != cp.root_hash:
        raise LedgerCorrupted(
            f"checkpoint row {latest.tree_size} does not hold what its note signs", cp.size
        )
    if cp.size < _signed_size:
        raise LedgerCorrupted(
            f"the newest checkpoint is of size {cp.size}, but this sequencer signed "
            f"{_signed_size}: signed checkpoints were removed",
            cp.size,
        )
    if Entry.objects.filter(index__gte=cp.size).exists():
        raise LedgerCorrupted(f"entries exist beyond the newest checkpoint ({cp.size})", cp.size)
    try:
        edge = store.read_edge(cp.size)
        root = tree_root(cp.size, edge_reader(cp.size, edge))
    except ValueError as exc:  # TileError: a tile or entry is missing
        raise LedgerCorrupted(
            f"the right edge of tree {cp.size} cannot be read ({exc})", None
        ) from None
    if root != cp.root_hash:
        first = store.first_unreproduced(cp.size)
        raise LedgerCorrupted(
            f"the stored right edge does not reproduce the signed root of tree {cp.size}; "
            f"entries from index {first} on differ from what was signed",
            first,
        )
    return edge


def _well_formed(
    pending: list[tuple[int, bytes | memoryview]],
) -> list[tuple[int, bytes | memoryview]]:
    """The pooled leaves that decode; others are dropped from the pool with an alarm (only
    something that bypassed submit() can pool one)."""
    good, bad = [], []
    for submission_id, data in pending:
        try:
            leaf.decode(bytes(data))
            good.append((submission_id, data))
        except leaf.LeafError as exc:
            bad.append((submission_id, exc))
    if bad:
        bulk.delete(Submission, [submission_id for submission_id, _ in bad])

        def raise_alarms() -> None:
            for submission_id, exc in bad:
                alarms.raise_alarm(
                    alarms.Alarm.Source.SEQUENCER,
                    f"a pooled leaf is malformed and was not integrated ({exc})",
                    subject=f"submission {submission_id}",
                )

        transaction.on_commit(raise_alarms)
    return good


def _integrate(batch_size: int) -> int:
    global _signed_size
    with transaction.atomic():
        _lock()
        latest = store.latest_signed()
        witnessed = keys.has_witnesses()
        if latest is None:
            latest = Checkpoint.objects.create(
                tree_size=0,
                root_hash=merkle.EMPTY_ROOT,
                note=_sign(0, merkle.EMPTY_ROOT),
                created_at=timezone.now(),
            )
            if not witnessed:
                publisher.publish_signed(latest)
        pending = list(Submission.objects.order_by("id").values_list("id", "data")[:batch_size])
        if not pending:
            return 0
        edge = check_head(latest)
        pending = _well_formed(pending)
        if not pending:
            return 0
        old_size = latest.tree_size
        datas = [bytes(data) for _, data in pending]
        growth = grow(old_size, edge, [merkle.leaf_hash(d) for d in datas])
        root = tree_root(growth.tree_size, edge_reader(growth.tree_size, growth.edge))
        now = timezone.now()
        rows = []
        for offset, ((submission_id, _), data) in enumerate(zip(pending, datas, strict=True)):
            parsed = leaf.decode(data)
            rows.append(
                (
                    old_size + offset,
                    data,
                    parsed.kind,
                    parsed.sha256,
                    parsed.sm3,
                    leaf.subject(parsed),
                    submission_id,
                )
            )
        _insert_entries(rows, now)
        Tile.objects.bulk_create(
            Tile(level=ref.level, index=ref.index, hashes=n.data, inner=n.inner, root=n.root)
            for ref, n in growth.full_tiles
        )
        signed = Checkpoint.objects.create(
            tree_size=growth.tree_size,
            root_hash=root,
            note=_sign(growth.tree_size, root),
            created_at=now,
        )
        if not witnessed:
            publisher.publish_signed(signed)
        bulk.delete(Submission, [submission_id for submission_id, _ in pending])
        integrated.send(sender=Entry, first=old_size, end=growth.tree_size)
    _signed_size = max(_signed_size, growth.tree_size)
    if witnessed:
        publisher.wake()
    return len(pending)


def _insert_entries(rows: list[tuple], now) -> None:
    """Write a batch's entries (COPY on PostgreSQL: the ORM costs most of a batch's time)."""
    fields = ("index", "data", "kind", "sha256", "sm3", "subject", "submission", "integrated_at")
    bulk.copy(Entry, fields, ((*row, now) for row in rows))


def run(stop: threading.Event | None = None) -> None:
    """Integrate forever: a batch every LEDGER_BATCH_PERIOD, or at once after a full one."""
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        try:
            added = integrate()
        except LedgerCorrupted:
            log.critical("the ledger is corrupted: the sequencer stops and signs nothing more")
            break
        except Exception:
            log.exception("ledger batch failed; the pool is kept and retried")
            connection.close()  # a broken connection is reopened by the next batch
            added = 0
        if added < settings.LEDGER_BATCH_SIZE:
            stop.wait(max(0.0, settings.LEDGER_BATCH_PERIOD - (time.monotonic() - started)))
    connection.close()


_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def start_thread() -> None:
    """Start the in-process sequencer thread of the embedded default, once per process,
    the publisher's beside it when the log has witnesses, the timestamper's when it has
    TSAs, and the chain anchoring loop's when it has a chain."""
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=run, name="ledger-sequencer", daemon=True)
            _thread.start()
    if keys.has_witnesses():
        publisher.start_thread()
    timestamps.start_thread()
    chain_anchors.start_thread()
