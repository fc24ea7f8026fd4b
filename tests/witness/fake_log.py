"""A real transparency log for the witness's tests: a Merkle tree in memory, signed
checkpoints at any size, consistency proofs, and add-checkpoint bodies built from them."""

from __future__ import annotations

from anchoring.checkpoint import Checkpoint, sign_checkpoint
from anchoring.merkle import EMPTY_ROOT
from anchoring.note import Signer, encode_base64, verifier_key
from tests.anchoring.memory_tree import MemoryTree


class FakeLog:
    """A log named `origin` with its own key and `size` leaves (more with grow())."""

    def __init__(self, origin: str = "court-b.example/ledger", size: int = 0) -> None:
        self.origin = origin
        self.signer = Signer.generate(origin)
        self.tree = MemoryTree()
        self.grow(size)

    @property
    def vkey(self) -> str:
        return verifier_key(self.signer)

    def grow(self, count: int) -> None:
        start = self.tree.size
        for i in range(count):
            self.tree.append(f"{self.origin} entry {start + i}".encode())

    def root(self, size: int) -> bytes:
        return self.tree.root(size) if size else EMPTY_ROOT

    def checkpoint(
        self, size: int | None = None, *, root: bytes | None = None, signer: Signer | None = None
    ) -> str:
        """The signed checkpoint of `size` (default: all), or with another root."""
        size = self.tree.size if size is None else size
        cp = Checkpoint(self.origin, size, self.root(size) if root is None else root)
        return sign_checkpoint(cp, signer or self.signer, allow_name_mismatch=True)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self.tree.size if new is None else new
        if old == 0 or old == new:
            return []
        return self.tree.consistency_proof(old, new)

    def body(
        self,
        old: int,
        size: int | None = None,
        *,
        proof: list[bytes] | None = None,
        note: str | None = None,
    ) -> bytes:
        """An add-checkpoint body from `old` to `size`, with the right proof by default."""
        size = self.tree.size if size is None else size
        proof = self.proof(old, size) if proof is None else proof
        note = self.checkpoint(size) if note is None else note
        lines = [f"old {old}", *(encode_base64(h) for h in proof)]
        return ("\n".join(lines) + "\n\n" + note).encode()
