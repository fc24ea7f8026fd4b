"""Reading the stored log: tiles (full or derived partial), entries, proofs, checkpoints."""

from __future__ import annotations

from django.db.models import Q

from anchoring import merkle
from anchoring.models import Checkpoint, Entry, Tile
from anchoring.tiles import (
    TILE_WIDTH,
    TileError,
    TileRef,
    right_edge_refs,
    split_hashes,
    with_tiles,
)


def latest_checkpoint() -> Checkpoint | None:
    """The newest signed checkpoint, or None before the log's first batch."""
    return Checkpoint.objects.order_by("-tree_size").first()


def tree_size() -> int:
    """The size of the newest checkpointed tree (0 before the first batch)."""
    cp = latest_checkpoint()
    return cp.tree_size if cp else 0


def read_tiles(refs: list[TileRef]) -> dict[TileRef, bytes]:
    """Tile bytes for each ref: stored full tiles, or partial tiles derived below them.

    A partial tile of width W is the first W hashes of its tile, whether or not that tile
    has since become full, so historical tree sizes read the same way as the newest.
    """
    if not refs:
        return {}
    full_q = Q()
    for ref in refs:
        full_q |= Q(level=ref.level, index=ref.index)
    stored = {
        (level, index): bytes(hashes)
        for level, index, hashes in Tile.objects.filter(full_q).values_list(
            "level", "index", "hashes"
        )
    }
    out = {}
    for ref in refs:
        data = stored.get((ref.level, ref.index))
        out[ref] = data[: ref.width * 32] if data is not None else _partial_tile(ref)
    return out


def _partial_tile(ref: TileRef) -> bytes:
    first = ref.index * TILE_WIDTH
    if ref.level == 0:
        rows = Entry.objects.filter(index__gte=first, index__lt=first + ref.width)
        hashes = [merkle.leaf_hash(bytes(d)) for d in rows.values_list("data", flat=True)]
    else:
        rows = Tile.objects.filter(
            level=ref.level - 1, index__gte=first, index__lt=first + ref.width
        ).order_by("index")
        hashes = [bytes(r) for r in rows.values_list("root", flat=True)]
    if len(hashes) != ref.width:
        raise TileError(f"tile {ref.path()} is not in the log yet")
    return b"".join(hashes)


def read_edge(size: int) -> dict[int, list[bytes]]:
    """The hashes of the partial tiles at the right edge of the tree of `size` leaves."""
    refs = right_edge_refs(size)
    tiles = read_tiles(refs)
    return {ref.level: split_hashes(tiles[ref]) for ref in refs}


def entry_bundle(ref: TileRef) -> list[bytes]:
    """The entries of the bundle matching level-0 tile `ref`."""
    first = ref.index * TILE_WIDTH
    rows = Entry.objects.filter(index__gte=first, index__lt=first + ref.width)
    data = [bytes(d) for d in rows.order_by("index").values_list("data", flat=True)]
    if len(data) != ref.width:
        raise TileError(f"entry bundle {ref.entries_path()} is not in the log yet")
    return data


def root_hash(size: int) -> bytes:
    """The Merkle root of the first `size` entries."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return with_tiles(size, lambda subtree: subtree(0, size), read_tiles)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    return with_tiles(size, lambda st: merkle.inclusion_proof(index, size, st), read_tiles)


def consistency_proof(old: int, new: int) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of `old` and `new` entries."""
    if old == 0 or old == new:
        return []
    return with_tiles(new, lambda st: merkle.consistency_proof(old, new, st), read_tiles)
