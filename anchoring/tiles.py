"""C2SP tlog-tiles: tile coordinates and paths, entry bundles, and tree maths on tiles.

Plain Python (no Django) so that the read side, the sequencer, the offline verifier and
the tests share one implementation. A tile at level L holds the Merkle hashes of
consecutive complete subtrees of 256**L leaves; see docs/formats.md.
"""

from __future__ import annotations

import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from anchoring.merkle import EMPTY_ROOT, HASH_SIZE, node_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_LEVEL = 63


class TileError(ValueError):
    """A tile path, coordinate or bundle that the spec does not allow."""


class TileRef(NamedTuple):
    """One tile: its level, its index in the level, and how many hashes it holds."""

    level: int
    # The tlog-tiles name; as a NamedTuple field it hides tuple.index, which mypy reports.
    index: int  # type: ignore[assignment]
    width: int

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """The tile's path under the log prefix, e.g. tile/0/x001/234.p/7."""
        return f"tile/{self.level}/{encode_index(self.index)}{_width_suffix(self.width)}"

    def entries_path(self) -> str:
        """The path of the entry bundle matching this level-0 tile."""
        return f"tile/entries/{encode_index(self.index)}{_width_suffix(self.width)}"


def _width_suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def encode_index(n: int) -> str:
    """Encode a tile index as zero-padded 3-digit path elements: 1234067 -> x001/x234/067."""
    if n < 0:
        raise TileError("tile index must not be negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


_INDEX = r"(?P<index>(?:x\d{3}/)*\d{3})"
_WIDTH = r"(?:\.p/(?P<width>[1-9]\d{0,2}))?"
_TILE_PATH = re.compile(rf"tile/(?P<level>0|[1-9]\d?)/{_INDEX}{_WIDTH}")
_ENTRIES_PATH = re.compile(rf"tile/entries/{_INDEX}{_WIDTH}")


def parse_tile_path(path: str) -> tuple[bool, TileRef]:
    """Parse `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`; True means entries."""
    match = _ENTRIES_PATH.fullmatch(path)
    entries = match is not None
    if match is None:
        match = _TILE_PATH.fullmatch(path)
    if match is None:
        raise TileError(f"not a tile path: {path!r}")
    level = 0 if entries else int(match["level"])
    if level > MAX_LEVEL:
        raise TileError(f"tile level {level} is above {MAX_LEVEL}")
    parts = match["index"].split("/")
    # Index elements may not add leading zero groups: x000/001 is not 1.
    if len(parts) > 1 and parts[0] == "x000":
        raise TileError("tile index has a leading zero group")
    index = int("".join(p.lstrip("x") for p in parts))
    width = int(match["width"]) if match["width"] else TILE_WIDTH
    if match["width"] and width >= TILE_WIDTH:
        raise TileError("partial tile width must be between 1 and 255")
    return entries, TileRef(level, index, width)


def level_size(level: int, tree_size: int) -> int:
    """How many hashes exist at tile level `level` in a tree of tree_size leaves."""
    return tree_size >> (TILE_HEIGHT * level)


def tile_width(level: int, index: int, tree_size: int) -> int:
    """Width of tile (level, index) in a tree of tree_size, 0 when it does not exist yet."""
    return max(0, min(TILE_WIDTH, level_size(level, tree_size) - index * TILE_WIDTH))


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """An entry bundle: each entry prefixed with its big-endian uint16 length."""
    out = bytearray()
    for entry in entries:
        if len(entry) > 0xFFFF:
            raise TileError("entry longer than 65535 bytes")
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle into its entries, refusing trailing or truncated bytes."""
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise TileError("truncated entry length")
        (length,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + length > len(data):
            raise TileError("truncated entry")
        entries.append(data[pos : pos + length])
        pos += length
    if len(entries) > TILE_WIDTH:
        raise TileError("entry bundle holds more than 256 entries")
    return entries


def split_hashes(data: bytes) -> list[bytes]:
    """The hashes of a tile's bytes."""
    if len(data) % HASH_SIZE:
        raise TileError("tile length is not a multiple of 32")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


# --- Subtree hashes from tiles ---------------------------------------------------------

# Returns each tile's bytes, or its TileNodes when the reader has them already.
TileReader = Callable[[list[TileRef]], Mapping[TileRef, "bytes | TileNodes"]]


def _complete_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split D[start:end] into complete aligned subtrees (height, index), left to right."""
    out = []
    while start < end:
        height = (end - start).bit_length() - 1
        if start:
            height = min(height, (start & -start).bit_length() - 1)
        out.append((height, start >> height))
        start += 1 << height
    return out


def _locate(height: int, index: int, tree_size: int) -> tuple[TileRef, int, int]:
    """The tile holding complete subtree (height, index), and the slice of its hashes."""
    level, rest = divmod(height, TILE_HEIGHT)
    first = index << rest
    tile_index = first >> TILE_HEIGHT
    ref = TileRef(level, tile_index, tile_width(level, tile_index, tree_size))
    offset = first & (TILE_WIDTH - 1)
    return ref, offset, offset + (1 << rest)


class TileNodes:
    """Every complete subtree hash inside one tile, computed once from its hashes.

    levels[r] holds, concatenated, the hashes of the complete subtrees of height r above
    the tile's own level; a partial tile simply has fewer of them.
    """

    __slots__ = ("levels",)

    def __init__(self, data: bytes) -> None:
        levels = [data]
        while len(levels[-1]) >= 2 * HASH_SIZE:
            below = levels[-1]
            pairs = len(below) // (2 * HASH_SIZE)
            levels.append(
                b"".join(
                    node_hash(below[i : i + HASH_SIZE], below[i + HASH_SIZE : i + 2 * HASH_SIZE])
                    for i in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE)
                )
            )
        self.levels = levels

    @classmethod
    def from_stored(cls, data: bytes, inner: bytes) -> TileNodes:
        """A full tile from its hashes and its stored inner nodes (no hashing at all)."""
        nodes = cls.__new__(cls)
        nodes.levels, offset, width = [data], 0, TILE_WIDTH // 2
        while width:
            nodes.levels.append(inner[offset : offset + width * HASH_SIZE])
            offset, width = offset + width * HASH_SIZE, width // 2
        return nodes

    @property
    def data(self) -> bytes:
        """The tile itself: its hashes at its own level."""
        return self.levels[0]

    @property
    def inner(self) -> bytes:
        """Every hash above the tile's own level, lowest level first, as stored."""
        return b"".join(self.levels[1:])

    @property
    def root(self) -> bytes:
        """The Merkle root of a full tile (the hash one tile level up)."""
        return self.levels[-1]

    def hash(self, height: int, position: int) -> bytes:
        """The hash of the complete subtree of `height` at `position` within the tile."""
        return self.levels[height][position * HASH_SIZE : (position + 1) * HASH_SIZE]


class NodeCache:
    """A bounded, thread-safe LRU of TileNodes. Tiles never change, so entries never go stale."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[TileRef, TileNodes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ref: TileRef) -> TileNodes | None:
        with self._lock:
            nodes = self._items.get(ref)
            if nodes is not None:
                self._items.move_to_end(ref)
            return nodes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, ref: TileRef, nodes: TileNodes) -> None:
        with self._lock:
            self._items[ref] = nodes
            self._items.move_to_end(ref)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def with_tiles[T](
    tree_size: int,
    compute: Callable[[Callable[[int, int], bytes]], T],
    read: TileReader,
    cache: NodeCache | None = None,
) -> T:
    """Run `compute(subtree)` where subtree(start, end) is MTH(D[start:end]) read from tiles.

    The first pass records which tiles the computation needs (RFC 9162's algorithms do
    not branch on hash values), so the ones not cached are read at once, then it runs.
    """
    wanted: set[TileRef] = set()
    # Proofs computed together (a batch's receipts) share most of their subtrees.
    recorded: set[tuple[int, int]] = set()
    computed: dict[tuple[int, int], bytes] = {}

    def record(start: int, end: int) -> bytes:
        if (start, end) not in recorded:
            recorded.add((start, end))
            for height, index in _complete_subtrees(start, end):
                wanted.add(_locate(height, index, tree_size)[0])
        return bytes(HASH_SIZE)

    compute(record)
    nodes: dict[TileRef, TileNodes] = {}
    for ref in wanted:
        found = cache.get(ref) if cache else None
        if found is not None:
            nodes[ref] = found
    for ref, data in read(sorted(wanted - nodes.keys())).items():
        nodes[ref] = data if isinstance(data, TileNodes) else TileNodes(data)
        if cache:
            cache.put(ref, nodes[ref])

    def subtree(start: int, end: int) -> bytes:
        if (start, end) in computed:
            return computed[start, end]
        hashes = []
        for height, index in _complete_subtrees(start, end):
            ref, lo, hi = _locate(height, index, tree_size)
            hashes.append(nodes[ref].hash(height % TILE_HEIGHT, lo >> (height % TILE_HEIGHT)))
        result = hashes.pop()
        while hashes:
            result = node_hash(hashes.pop(), result)
        computed[start, end] = result
        return result

    return compute(subtree)


def tree_root(tree_size: int, read: TileReader) -> bytes:
    """The root hash of the tree of tree_size leaves, from its right-edge tiles."""
    if tree_size == 0:
        return EMPTY_ROOT
    return with_tiles(tree_size, lambda subtree: subtree(0, tree_size), read)


# --- Growing the tree -----------------------------------------------------------------


class Growth(NamedTuple):
    """What appending leaves produced: new full tiles with all their nodes, and the new edge."""

    full_tiles: list[tuple[TileRef, TileNodes]]
    edge: dict[int, list[bytes]]
    tree_size: int


def right_edge_refs(tree_size: int) -> list[TileRef]:
    """The partial tiles at the right edge of a tree: one per level that has one."""
    refs, level = [], 0
    while level_size(level, tree_size) > 0:
        width = level_size(level, tree_size) % TILE_WIDTH
        if width:
            refs.append(TileRef(level, level_size(level, tree_size) // TILE_WIDTH, width))
        level += 1
    return refs


def grow(tree_size: int, edge: Mapping[int, list[bytes]], leaf_hashes: list[bytes]) -> Growth:
    """Append leaf hashes to a tree given its right edge (partial tile hashes per level)."""
    new_size = tree_size + len(leaf_hashes)
    carry = list(leaf_hashes)
    full: list[tuple[TileRef, TileNodes]] = []
    new_edge: dict[int, list[bytes]] = {}
    level = 0
    while carry or edge.get(level):
        row = list(edge.get(level, [])) + carry
        first_index = level_size(level, tree_size) // TILE_WIDTH
        carry = []
        whole = len(row) // TILE_WIDTH
        for i in range(whole):
            nodes = TileNodes(b"".join(row[i * TILE_WIDTH : (i + 1) * TILE_WIDTH]))
            full.append((TileRef(level, first_index + i, TILE_WIDTH), nodes))
            carry.append(nodes.root)
        rest = row[whole * TILE_WIDTH :]
        if rest:
            new_edge[level] = rest
        level += 1
    return Growth(full, new_edge, new_size)


def edge_reader(tree_size: int, edge: Mapping[int, list[bytes]]) -> TileReader:
    """A tile reader serving only a tree's right-edge partial tiles (enough for its root)."""
    by_ref = {ref: b"".join(edge[ref.level]) for ref in right_edge_refs(tree_size)}
    return lambda refs: {ref: by_ref[ref] for ref in refs}
