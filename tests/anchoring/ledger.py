"""Building a real ledger in the test database, the way the sequencer does."""

import hashlib

from anchoring import merkle, sequencer, store
from anchoring.digest import sm3
from anchoring.leaf import Kind, Leaf
from anchoring.models import Checkpoint, Submission


def content_leaf(content: bytes, timestamp_ms: int = 1_767_225_600_000) -> Leaf:
    """A plain anchor leaf for some content."""
    return Leaf(Kind.ANCHOR, timestamp_ms, hashlib.sha256(content).digest(), sm3(content))


def grow_ledger(count: int, batch: int = 1000, start: int = 0) -> list[bytes]:
    """Pool `count` distinct leaves and integrate them in batches; return their bytes."""
    datas = [content_leaf(f"file {start + i}".encode()).encode() for i in range(count)]
    Submission.objects.bulk_create(Submission(data=d) for d in datas)
    while sequencer.integrate(batch):
        pass
    return datas


def verify_each_consistent_with_the_next(cps: list[Checkpoint]) -> None:
    """Each stored checkpoint's RFC 9162 consistency proof to the next one verifies
    (merkle.ProofError otherwise)."""
    for old, new in zip(cps, cps[1:], strict=False):
        merkle.verify_consistency(
            old.tree_size,
            new.tree_size,
            bytes(old.root_hash),
            bytes(new.root_hash),
            store.consistency_proof(old.tree_size, new.tree_size),
        )
