"""Tile maths without a database: paths, bundles, growing a tree, proofs read from tiles."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring import merkle
from anchoring.tiles import (
    TILE_WIDTH,
    TileError,
    TileNodes,
    TileRef,
    decode_bundle,
    edge_reader,
    encode_bundle,
    encode_index,
    grow,
    level_size,
    parse_tile_path,
    tile_width,
    tree_root,
    with_tiles,
)

LEAVES = [merkle.leaf_hash(hashlib.sha256(b"%d" % i).digest()) for i in range(70_000)]


class TileStore:
    """Tiles kept in a dict, grown batch by batch the way the sequencer grows them."""

    def __init__(self) -> None:
        self.full: dict[tuple[int, int], bytes] = {}
        self.edge: dict[int, list[bytes]] = {}
        self.size = 0

    def append(self, leaf_hashes: list[bytes]) -> None:
        growth = grow(self.size, self.edge, leaf_hashes)
        for ref, nodes in growth.full_tiles:
            data = nodes.data
            assert nodes.root == merkle.root([data[i : i + 32] for i in range(0, len(data), 32)])
            # Stored inner hashes rebuild the same nodes as hashing the tile again.
            assert TileNodes.from_stored(data, nodes.inner).levels == TileNodes(data).levels
            self.full[(ref.level, ref.index)] = data
        self.edge, self.size = growth.edge, growth.tree_size

    def read(self, refs: list[TileRef]) -> dict[TileRef, bytes]:
        out = {}
        for ref in refs:
            data = self.full.get((ref.level, ref.index))
            if data is None:
                # A smaller tree's partial tile is a prefix of today's right-edge tile.
                assert ref.width <= len(self.edge[ref.level]), "asked for a tile it cannot hold"
                data = b"".join(self.edge[ref.level])
            out[ref] = data[: ref.width * 32]
        return out


@pytest.fixture(scope="module")
def big_store() -> TileStore:
    store = TileStore()
    for start in range(0, 70_000, 9_999):
        store.append(LEAVES[start : start + 9_999])
    return store


def test_index_encoding_matches_the_spec_example():
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(1000) == "x001/000"


def test_paths_round_trip():
    for ref in (TileRef(0, 0, 256), TileRef(3, 1234067, 17), TileRef(63, 999, 255)):
        assert parse_tile_path(ref.path()) == (False, ref)
        if ref.level == 0:
            assert parse_tile_path(ref.entries_path()) == (True, ref)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/0001",
        "tile/01/000",
        "tile/64/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/01",
        "tile/0/x000/001",
        "tile/0/x1/000",
        "tile/0/000/",
        "tile/entries/000.p/999",
        "tile/-1/000",
    ],
)
def test_malformed_paths_are_refused(path):
    with pytest.raises(TileError):
        parse_tile_path(path)


def tiles_for_size(tree_size: int) -> list[TileRef]:
    """Every tile (full and the partial right edge) of a tree of tree_size leaves."""
    refs = []
    level = 0
    while level_size(level, tree_size) > 0:
        count = level_size(level, tree_size)
        for index in range((count + TILE_WIDTH - 1) // TILE_WIDTH):
            refs.append(TileRef(level, index, tile_width(level, index, tree_size)))
        level += 1
    return refs


def test_the_spec_example_tree_of_70000():
    refs = tiles_for_size(70_000)
    partial = [r for r in refs if not r.full]
    assert partial == [TileRef(0, 273, 112), TileRef(1, 1, 17), TileRef(2, 0, 1)]
    assert sum(1 for r in refs if r.full and r.level == 0) == 273
    assert sum(1 for r in refs if r.full and r.level == 1) == 1
    assert [r for r in tiles_for_size(256) if not r.full] == [TileRef(1, 0, 1)]


def test_bundles_round_trip_and_refuse_truncation():
    entries = [b"", b"a", bytes(300), bytes(range(256))]
    data = encode_bundle(entries)
    assert decode_bundle(data) == entries
    for truncated in (data[:1], data[:3], data[:-1]):
        with pytest.raises(TileError):
            decode_bundle(truncated)
    with pytest.raises(TileError):
        encode_bundle([bytes(0x10000)])


def test_grown_tiles_give_the_right_root_at_every_step():
    store = TileStore()
    for start, stop in ((0, 1), (1, 255), (255, 256), (256, 257), (257, 65_536), (65_536, 70_000)):
        store.append(LEAVES[start:stop])
        assert tree_root(store.size, edge_reader(store.size, store.edge)) == merkle.root(
            LEAVES[:stop]
        )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_proofs_read_from_tiles_match_memory_proofs(big_store, data):
    size = data.draw(st.integers(1, 70_000))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    root = merkle.root(LEAVES[:size])

    proof = with_tiles(size, lambda s: merkle.inclusion_proof(index, size, s), big_store.read)
    merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
    if 0 < old < size:
        cproof = with_tiles(size, lambda s: merkle.consistency_proof(old, size, s), big_store.read)
        merkle.verify_consistency(old, size, merkle.root(LEAVES[:old]), root, cproof)


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_proofs_computed_together_match_each_alone(big_store, data):
    """A batch's receipts share subtrees, computed once: each proof is still its own."""
    size = data.draw(st.integers(1, 70_000))
    indexes = data.draw(st.lists(st.integers(0, size - 1), min_size=2, max_size=40))
    root = merkle.root(LEAVES[:size])

    together = with_tiles(
        size, lambda s: [merkle.inclusion_proof(i, size, s) for i in indexes], big_store.read
    )
    for index, proof in zip(indexes, together, strict=True):
        alone = with_tiles(
            size, lambda s, i=index: merkle.inclusion_proof(i, size, s), big_store.read
        )
        assert proof == alone
        merkle.verify_inclusion(LEAVES[index], index, size, proof, root)


def test_full_tiles_are_exactly_256_hashes(big_store):
    assert all(len(data) == TILE_WIDTH * 32 for data in big_store.full.values())
    assert (2, 0) not in big_store.full
