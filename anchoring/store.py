"""Reading the stored log: tiles (full or derived partial), entries, proofs, checkpoints.

Every tile and entry a signed tree covers is stored (a batch commits its entries, full
tiles and checkpoint together), so a row a reader needs and cannot find means the
database was damaged: LedgerDamaged, with an alarm. Nothing is made up in its place.
"""

from __future__ import annotations

from django.conf import settings

from anchoring import merkle
from anchoring.alarms import raise_alarm
from anchoring.models import Alarm, Checkpoint, Entry, PublishedCheckpoint, Tile
from anchoring.tiles import (
    TILE_WIDTH,
    NodeCache,
    TileError,
    TileNodes,
    TileRef,
    right_edge_refs,
    split_hashes,
    with_tiles,
)
from plumbing import bulk, error_codes
from plumbing.errors import Refusal

# Tiles never change once written, so computed subtree hashes are kept per process.
_nodes = NodeCache(settings.LEDGER_TILE_CACHE_SIZE)


class LedgerDamaged(Refusal, TileError):
    """A tile or entry that the signed tree covers is missing from the database.

    A Refusal, so the JSON API answers it as 503 ledger_damaged wherever it surfaces; a
    TileError, so the sequencer takes it as a log it cannot extend. Verification reads it
    as a ledger that cannot answer (anchoring.backend): "could not check".
    """

    def __init__(self, what: str) -> None:
        super().__init__(error_codes.LEDGER_DAMAGED)
        self.what = what


def _damaged(what: str) -> LedgerDamaged:
    """The error for a missing row, after an alarm naming it.

    Inside the sequencer's transaction the alarm's row is rolled back with it; the
    sequencer then raises its own alarm, and the log line stays.
    """
    raise_alarm(Alarm.Source.READ_SIDE, f"{what} is missing from the database", subject=what)
    return LedgerDamaged(what)


def forget_tiles() -> None:
    """Empty this process's tile cache: only for a database replaced under a running process
    (tests, a restored backup); a live log's tiles never change."""
    _nodes.clear()


def latest_checkpoint() -> PublishedCheckpoint | None:
    """The newest published checkpoint (cosigned by the witness quorum, when the log has
    witnesses), or None before the first one. What every reader of the log is given."""
    return PublishedCheckpoint.objects.order_by("-tree_size").first()


def published_note(size: int) -> str | None:
    """The published note of the checkpoint of exactly `size`, if one was published."""
    return PublishedCheckpoint.objects.filter(tree_size=size).values_list("note", flat=True).first()


def latest_signed() -> Checkpoint | None:
    """The newest checkpoint the sequencer signed, published or not: the log's head."""
    return Checkpoint.objects.order_by("-tree_size").first()


def tree_size() -> int:
    """The size of the newest published tree (0 before the first publication)."""
    cp = latest_checkpoint()
    return cp.tree_size if cp else 0


def read_tiles(refs: list[TileRef]) -> dict[TileRef, bytes]:
    """Tile bytes for each ref: stored full tiles, or partial tiles derived below them.

    A partial tile of width W is the first W hashes of its tile, whether or not that tile
    has since become full, so historical tree sizes read the same way as the newest.
    """
    return {ref: nodes.data for ref, nodes in _read_nodes(refs).items()}


def _read_nodes(refs: list[TileRef]) -> dict[TileRef, TileNodes]:
    """TileNodes for each ref, from the stored inner hashes where a full tile has them."""
    rows = bulk.select_by_keys(
        Tile, ("level", "index"), ((ref.level, ref.index) for ref in refs), ("hashes", "inner")
    )
    stored = {(lv, ix): (bytes(data), bytes(inner or b"")) for lv, ix, data, inner in rows}
    out = {}
    for ref in refs:
        found = stored.get((ref.level, ref.index))
        if found is None and ref.full:  # written with the batch that filled it
            raise _damaged(ref.path())
        if found is None:
            out[ref] = TileNodes(_partial_tile(ref))
        elif ref.full and found[1]:
            out[ref] = TileNodes.from_stored(*found)
        else:  # an older tree's narrower view of a tile that is full now
            out[ref] = TileNodes(found[0][: ref.width * 32])
    return out


def _partial_tile(ref: TileRef) -> bytes:
    """A tile the log has not filled yet, hashed from the level below."""
    first, end = ref.index * TILE_WIDTH, ref.index * TILE_WIDTH + ref.width
    if ref.level == 0:
        entries = bulk.select_range(Entry, "data", "index", first, end)
        hashes = [merkle.leaf_hash(bytes(data)) for data in entries]
    else:
        roots = bulk.select_range(Tile, "root", "index", first, end, level=ref.level - 1)
        hashes = [bytes(root) for root in roots]
    if len(hashes) != ref.width:
        raise _damaged(f"{'an entry' if ref.level == 0 else 'a tile'} below {ref.path()}")
    return b"".join(hashes)


def first_unreproduced(size: int) -> int:
    """Where the stored log stops reproducing its signed checkpoints, for an alarm.

    Checks, read fresh (no cache), the root of each signed checkpoint from the start of
    the right edge's level-0 tile up to `size`; the first that does not reproduce means
    an entry at or after the checkpoint before it differs. Returns that index.
    """
    start = size - size % TILE_WIDTH
    sizes = Checkpoint.objects.filter(tree_size__gte=start, tree_size__lte=size)
    previous = start
    for cp_size, root in sizes.order_by("tree_size").values_list("tree_size", "root_hash"):
        if cp_size and _fresh_root(cp_size) != bytes(root):
            return previous
        previous = cp_size
    return start


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
        raise _damaged(f"an entry of {ref.entries_path()}")
    return data


def _fresh_root(size: int) -> bytes:
    """The Merkle root of the first `size` entries, read from the tiles past any cache."""
    return with_tiles(size, lambda subtree: subtree(0, size), _read_nodes)


def root_hash(size: int) -> bytes:
    """The Merkle root of the first `size` entries."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return with_tiles(size, lambda subtree: subtree(0, size), _read_nodes, _nodes)


def inclusion_proof(index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `size` entries."""
    return with_tiles(size, lambda st: merkle.inclusion_proof(index, size, st), _read_nodes, _nodes)


def inclusion_proofs(indexes: list[int], size: int) -> list[list[bytes]]:
    """Inclusion proofs of several entries in the tree of `size` entries, in their order.

    The tiles they need are read together (one query for those not cached, instead of a
    query per proof for the right edge's partial tiles): a batch's receipts.
    """
    return with_tiles(
        size, lambda st: [merkle.inclusion_proof(i, size, st) for i in indexes], _read_nodes, _nodes
    )


def consistency_proof(old: int, new: int) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of `old` and `new` entries."""
    if old == 0 or old == new:
        return []
    return with_tiles(new, lambda st: merkle.consistency_proof(old, new, st), _read_nodes, _nodes)
