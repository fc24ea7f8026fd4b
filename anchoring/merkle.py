"""Merkle tree hashing and proofs exactly as in RFC 9162 section 2.1 (same as RFC 6962).

Pure standard library, no Django: the offline verifier imports this module on its own.
"""

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ProofError",
    "SubtreeHash",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

SubtreeHash = Callable[[int, int], bytes]
"""``subtree(start, end)`` returns MTH(D[start:end]), the hash of leaves start..end-1.

Contract: the proof generators only call it with ``0 <= start < end <= size`` and
``start`` a multiple of a power of two that is >= ``end - start`` (every RFC 9162 split
produces such ranges). So ``[start, end)`` is either a complete aligned subtree or the
left-aligned prefix of one, which is what a tile store can answer without rehashing
arbitrary spans.
"""


class ProofError(ValueError):
    """An inclusion or consistency proof did not verify, its inputs are malformed, or its
    text form (a C2SP tlog-proof, anchoring.checkpoint) is malformed."""


def leaf_hash(entry: bytes) -> bytes:
    """Hash a log entry as a leaf: SHA-256(0x00 || entry), so leaves never collide with nodes."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: SHA-256(0x01 || left || right)."""
    _check_hash(left, "left child hash", ValueError)
    _check_hash(right, "right child hash", ValueError)
    return _node(left, right)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH of the given leaf hashes, the root a log of that many entries publishes."""
    for i, h in enumerate(leaf_hashes):
        _check_hash(h, f"leaf hash {i}", ValueError)
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Pairing level by level and carrying an odd last node up unchanged builds the same
    # tree as the RFC's "split at the largest power of two below n" recursion.
    while len(level) > 1:
        paired = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """Return PATH(index, D[size]) (RFC 9162 2.1.3.1), leaf side first, proving one entry."""
    _check_size(size, "tree size")
    if size == 0:
        raise ValueError("no inclusion proof exists in an empty tree")
    if not isinstance(index, int) or not 0 <= index < size:
        raise ValueError(f"leaf index {index!r} is out of range for tree size {size}")
    path = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            path.append(_call(subtree, mid, end))
            end = mid
        else:
            path.append(_call(subtree, start, mid))
            start = mid
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, subtree: SubtreeHash) -> list[bytes]:
    """Return PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1): new tree extends old one."""
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    if old_size > new_size:
        raise ValueError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    # Iterative SUBPROOF(m, D[n], b) in absolute leaf positions: [start, end) is the
    # current subtree and old_size stays the (absolute) end of the old tree.
    proof = []
    start, end, old_is_complete_subtree = 0, new_size, True
    while old_size != end:
        mid = start + _split(end - start)
        if old_size <= mid:
            proof.append(_call(subtree, mid, end))
            end = mid
        else:
            proof.append(_call(subtree, start, mid))
            start = mid
            old_is_complete_subtree = False
    if not old_is_complete_subtree:
        proof.append(_call(subtree, start, end))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf_hash sits at index in the tree of that size and root (RFC 9162 2.1.3.2)."""
    _check_hash(leaf_hash, "leaf hash", ProofError)
    _check_hash(root, "root hash", ProofError)
    _check_proof_hashes(proof)
    if not isinstance(index, int) or not isinstance(size, int) or not 0 <= index < size:
        raise ProofError(f"leaf index {index!r} is out of range for tree size {size!r}")
    expected = _inclusion_proof_size(index, size)
    if len(proof) != expected:
        raise ProofError(
            f"wrong inclusion proof length: got {len(proof)} hashes, expected {expected} "
            f"for leaf {index} in a tree of size {size}"
        )
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof has fewer hashes than the tree has levels")
    if r != root:
        raise ProofError(
            f"root mismatch: inclusion proof for leaf {index} in a tree of size {size} "
            f"yields {r.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (new_size, new_root) extends (old_size, old_root) (RFC 9162 2.1.4.2)."""
    _check_hash(old_root, "old root hash", ProofError)
    _check_hash(new_root, "new root hash", ProofError)
    _check_proof_hashes(proof)
    for value, what in ((old_size, "old tree size"), (new_size, "new tree size")):
        if not isinstance(value, int) or value < 0:
            raise ProofError(f"{what} must be a non-negative integer, got {value!r}")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError(
                f"consistency proof between equal sizes must be empty, got {len(proof)} hashes"
            )
        if old_root != new_root:
            raise ProofError(
                f"root mismatch: trees of the same size {old_size} have different roots "
                f"{old_root.hex()} and {new_root.hex()}"
            )
        return
    if old_size == 0:
        if proof:
            raise ProofError(
                f"consistency proof from the empty tree must be empty, got {len(proof)} hashes"
            )
        return
    expected = _consistency_proof_size(old_size, new_size)
    if len(proof) != expected:
        raise ProofError(
            f"wrong consistency proof length: got {len(proof)} hashes, expected {expected} "
            f"from size {old_size} to size {new_size}"
        )
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof has fewer hashes than the tree has levels")
    if fr != old_root:
        raise ProofError(
            f"old root mismatch: consistency proof from size {old_size} yields {fr.hex()}, "
            f"expected {old_root.hex()}"
        )
    if sr != new_root:
        raise ProofError(
            f"new root mismatch: consistency proof to size {new_size} yields {sr.hex()}, "
            f"expected {new_root.hex()}"
        )


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Return the largest power of two strictly below n (n >= 2), where RFC 9162 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_proof_size(index: int, size: int) -> int:
    """Return len(PATH(index, D[size])), to reject wrong-length proofs with a clear message."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_size(old_size: int, new_size: int) -> int:
    """Return len(PROOF(old_size, D[new_size])) for 0 < old_size < new_size."""
    shift = (old_size & -old_size).bit_length() - 1
    seed_in_proof = 0 if old_size == 1 << shift else 1
    return seed_in_proof + _inclusion_proof_size(old_size - 1, new_size) - shift


def _call(subtree: SubtreeHash, start: int, end: int) -> bytes:
    h = subtree(start, end)
    _check_hash(h, f"subtree hash for range [{start}, {end})", ValueError)
    return h


def _check_size(size: int, what: str) -> None:
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {size!r}")


def _check_hash(value: bytes, what: str, error: type[ValueError]) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise error(f"{what} must be {HASH_SIZE} bytes, got {got}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(h, f"proof hash {i}", ProofError)
