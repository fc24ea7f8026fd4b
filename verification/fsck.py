"""ledger_fsck as a whole: the ledger (anchoring.fsck), the court's rows (documents.fsck)
and this side's own memory of the ledger, the checkpoints it trusted.

A trusted checkpoint is what verification judges the ledger's growth by; a row that is
not signed by the log key, does not hold what its note signs, or names a tree the ledger
now signs differently (a fork) or no longer has (a rollback) is a discrepancy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.conf import settings
from django.db.models import Max

from anchoring import fsck as ledger_fsck
from anchoring.checkpoint import CheckpointError, open_checkpoint
from anchoring.fsck import Discrepancy, Report
from anchoring.models import Checkpoint
from anchoring.note import NoteError, Verifier
from documents import fsck as court_fsck
from verification.models import TrustedCheckpoint


def trusted_checkpoints(verifier: Verifier) -> Iterator[Discrepancy]:
    """Every trusted checkpoint row against the log key and the ledger's own checkpoints."""
    newest = Checkpoint.objects.aggregate(newest=Max("tree_size"))["newest"]
    newest = -1 if newest is None else newest
    # Only the ledger's checkpoints at the sizes the portal trusted: memory stays bounded
    # by the trusted rows, not by the number of batches.
    signed = dict(
        Checkpoint.objects.filter(
            tree_size__in=TrustedCheckpoint.objects.values("tree_size")
        ).values_list("tree_size", "root_hash")
    )
    for row in TrustedCheckpoint.objects.order_by("tree_size"):
        where = ("verification_trustedcheckpoint", f"tree_size {row.tree_size}")
        subject = f"trusted checkpoint {row.tree_size}"
        try:
            cp = open_checkpoint(row.note, verifier, origin=settings.LEDGER_ORIGIN)
        except (NoteError, CheckpointError) as exc:
            yield Discrepancy(*where, subject, f"its note does not verify with the log key ({exc})")
            continue
        if cp.size != row.tree_size or cp.root_hash.hex() != row.root_hash:
            yield Discrepancy(
                *where,
                subject,
                "its columns are not what its note signs",
                expected=f"size {cp.size}, root {cp.root_hash.hex()}",
                found=f"size {row.tree_size}, root {row.root_hash}",
            )
        elif cp.size > newest:
            yield Discrepancy(
                *where,
                subject,
                "the ledger's newest checkpoint is smaller than one this portal trusted: "
                "the ledger was rolled back",
                expected=f"a checkpoint of size {cp.size} or more",
                found=f"size {newest}",
            )
        elif cp.size in signed and bytes(signed[cp.size]) != cp.root_hash:
            yield Discrepancy(
                *where,
                subject,
                "the ledger signs another root for this size: a fork",
                expected=cp.root_hash.hex(),
                found=bytes(signed[cp.size]).hex(),
            )


def run(on_discrepancy: Callable[[Discrepancy], None] | None = None) -> Report:
    """The whole check, in one snapshot of the database."""
    return court_fsck.run(on_discrepancy, extra=[trusted_checkpoints])


def run_and_keep() -> Report:
    """Run the check and keep its result: an alarm per discrepancy, a FsckRun row."""
    report = run()
    ledger_fsck.keep_result(report)
    return report
