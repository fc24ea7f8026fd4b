"""A Merkle tree held in memory, to drive anchoring.merkle's proof generators in tests
(the ledger itself reads subtree hashes from its tiles)."""

from collections.abc import Iterable

from anchoring.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
)


def _check_leaf_hash(h: bytes) -> None:
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        got = f"{len(h)} bytes" if isinstance(h, bytes) else type(h).__name__
        raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {got}")


class MemoryTree:
    """An append-only list of leaf hashes in memory: a SubtreeHash for the proof generators."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        """Start a tree, optionally from existing leaf hashes (not entries)."""
        self._leaves: list[bytes] = []
        # Hashes of complete, aligned subtrees keyed by (start, size): never change once
        # all their leaves exist, since the log is append-only.
        self._complete: dict[tuple[int, int], bytes] = {}
        for h in leaf_hashes:
            self.append_leaf_hash(h)

    @property
    def size(self) -> int:
        """Number of leaves in the tree."""
        return len(self._leaves)

    def append(self, entry: bytes) -> int:
        """Append an entry (hashed as a leaf) and return its index."""
        return self.append_leaf_hash(leaf_hash(entry))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append an already computed leaf hash and return its index."""
        _check_leaf_hash(h)
        self._leaves.append(h)
        return len(self._leaves) - 1

    def leaf(self, index: int) -> bytes:
        """Return the leaf hash at index."""
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise ValueError(f"leaf index {index!r} is out of range for tree size {self.size}")
        return self._leaves[index]

    def root(self, size: int | None = None) -> bytes:
        """Return the root of the first size leaves (default: all of them)."""
        size = self._resolve(size)
        return self.subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf index in the tree of the given size."""
        return inclusion_proof(index, self._resolve(size), self.subtree)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Return the consistency proof from size old to size new (default: current size)."""
        return consistency_proof(old, self._resolve(new), self.subtree)

    def subtree(self, start: int, end: int) -> bytes:
        """Return MTH(D[start:end]) for any non-empty range; implements SubtreeHash."""
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= self.size):
            raise ValueError(
                f"range [{start!r}, {end!r}) is not a non-empty range of a tree of size {self.size}"
            )
        return self._subtree(start, end)

    def _subtree(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return self._leaves[start]
        if n & (n - 1) == 0 and start % n == 0:
            cached = self._complete.get((start, n))
            if cached is None:
                half = start + n // 2
                cached = node_hash(self._subtree(start, half), self._subtree(half, end))
                self._complete[(start, n)] = cached
            return cached
        mid = start + (1 << ((n - 1).bit_length() - 1))  # RFC 9162's split
        return node_hash(self._subtree(start, mid), self._subtree(mid, end))

    def _resolve(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"tree size must be a non-negative integer, got {size!r}")
        if size > self.size:
            raise ValueError(f"tree size {size} exceeds the {self.size} leaves held")
        return size
