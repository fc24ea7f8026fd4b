"""Tests for anchoring.merkle: published RFC 6962 vectors, a reference model, random trees.

The vectors live in vectors/rfc6962_sha256.json; its "_source" field names the
repositories and files they were copied from (transparency-dev/merkle and
google/certificate-transparency).
"""

import functools
import hashlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests.anchoring.memory_tree import MemoryTree

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc6962_sha256.json").read_text())


def _hex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


LEAF_INPUTS = _hex(VECTORS["leaf_inputs"])
ROOTS = _hex(VECTORS["roots"])
SOME_HASH = bytes.fromhex(VECTORS["some_hash"])
INCLUSION_VECTORS = [
    pytest.param(v["index"], v["size"], _hex(v["proof"]), id=f"leaf{v['index']}-of-{v['size']}")
    for v in VECTORS["inclusion_proofs"]
]
CONSISTENCY_VECTORS = [
    pytest.param(
        v["old_size"], v["new_size"], _hex(v["proof"]), id=f"{v['old_size']}-to-{v['new_size']}"
    )
    for v in VECTORS["consistency_proofs"]
]
NON_TRIVIAL_CONSISTENCY_VECTORS = [p for p in CONSISTENCY_VECTORS if p.values[2]]


def _vector_tree() -> MemoryTree:
    tree = MemoryTree()
    for entry in LEAF_INPUTS:
        tree.append(entry)
    return tree


def _flip(h: bytes, bit: int) -> bytes:
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


# --- Reference model: the RFC 9162 2.1 definitions, transcribed recursively on lists. ---


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _ref_split(len(d))
    return _ref_node(_ref_mth(d[:k]), _ref_mth(d[k:]))


def _ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _ref_split(len(d))
    if m < k:
        return _ref_path(m, d[:k]) + [_ref_mth(d[k:])]
    return _ref_path(m - k, d[k:]) + [_ref_mth(d[:k])]


def _ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_ref_mth(d)]
    k = _ref_split(len(d))
    if m <= k:
        return _ref_subproof(m, d[:k], b) + [_ref_mth(d[k:])]
    return _ref_subproof(m - k, d[k:], False) + [_ref_mth(d[:k])]


def _ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else _ref_subproof(m, d, True)


def _inclusion_shape(index: int, size: int) -> tuple[bool, ...]:
    """Sides of PATH(index, D[size]) from the leaf up: True where the sibling is on the left."""
    sides = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _ref_split(end - start)
        sides.append(index >= mid)
        start, end = (mid, end) if index >= mid else (start, mid)
    return tuple(reversed(sides))


def _consistency_shape(old: int, new: int) -> tuple[bool, tuple[bool, ...]]:
    """(old root is the seed, sides of PROOF(old, D[new]) bottom-up: True = shared left node)."""
    sides = []
    start, end, complete = 0, new, True
    while old != end:
        mid = start + _ref_split(end - start)
        sides.append(old > mid)
        if old > mid:
            start, complete = mid, False
        else:
            end = mid
    return complete, tuple(reversed(sides))


def _contract_checked(tree: MemoryTree, size: int):
    """Wrap tree.subtree, asserting the documented SubtreeHash calling contract."""

    def subtree(start: int, end: int) -> bytes:
        assert 0 <= start < end <= size, (start, end, size)
        smallest_power_covering = 1 << (end - start - 1).bit_length()
        assert start % smallest_power_covering == 0, (start, end)
        return tree.subtree(start, end)

    return subtree


# --- Hashing primitives and roots: published vectors. ---


def test_empty_root_is_sha256_of_empty_string() -> None:
    assert EMPTY_ROOT == bytes.fromhex(VECTORS["hasher"]["empty"]) == ROOTS[0]
    assert root([]) == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert HASH_SIZE == len(EMPTY_ROOT) == 32


@pytest.mark.parametrize("vector", VECTORS["hasher"]["leaves"], ids=lambda v: v["input"] or "empty")
def test_leaf_hash_vectors(vector: dict) -> None:
    assert leaf_hash(bytes.fromhex(vector["input"])) == bytes.fromhex(vector["hash"])


def test_node_hash_vectors() -> None:
    for v in VECTORS["hasher"]["nodes"]:
        left, right, expected = _hex([v["left"], v["right"], v["hash"]])
        assert node_hash(left, right) == expected


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_root_for_every_vector_size(size: int) -> None:
    hashes = [leaf_hash(e) for e in LEAF_INPUTS[:size]]
    assert root(hashes) == ROOTS[size]
    assert _vector_tree().root(size) == ROOTS[size]
    assert MemoryTree(hashes).root() == ROOTS[size]


def test_node_hashes_are_the_complete_subtrees() -> None:
    tree = _vector_tree()
    for level, hashes in enumerate(VECTORS["node_hashes"]):
        for i, expected in enumerate(_hex(hashes)):
            assert tree.subtree(i << level, (i + 1) << level) == expected, (level, i)


def test_root_of_five_entries_has_rfc_shape() -> None:
    a, b, c, d, e = (leaf_hash(bytes([x])) for x in b"abcde")
    h = node_hash
    assert root([a, b, c, d, e]) == h(h(h(a, b), h(c, d)), e)


# --- Inclusion and consistency proofs: published vectors. ---


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_VECTORS)
def test_inclusion_vector_generated_and_verified(
    index: int, size: int, expected: list[bytes]
) -> None:
    tree = _vector_tree()
    assert tree.inclusion_proof(index, size) == expected
    assert inclusion_proof(index, size, _contract_checked(tree, size)) == expected
    verify_inclusion(leaf_hash(LEAF_INPUTS[index]), index, size, expected, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_consistency_vector_generated_and_verified(
    old: int, new: int, expected: list[bytes]
) -> None:
    tree = _vector_tree()
    assert tree.consistency_proof(old, new) == expected
    assert consistency_proof(old, new, _contract_checked(tree, new)) == expected
    verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)


# --- Negative probes ported from transparency-dev/merkle proof/verify_test.go. ---


def _corrupt_inclusion(index, size, proof, root_, leaf):
    """corruptInclusionProof() of verify_test.go: (description, args) that must not verify."""
    probes = [
        ("leafIndex - 1", (leaf, index - 1, size, proof, root_)),
        ("leafIndex + 1", (leaf, index + 1, size, proof, root_)),
        ("leafIndex ^ 2", (leaf, index ^ 2, size, proof, root_)),
        ("treeSize * 2", (leaf, index, size * 2, proof, root_)),
        ("treeSize / 2", (leaf, index, size // 2, proof, root_)),
        ("wrong leaf", (b"WrongLeaf", index, size, proof, root_)),
        ("wrong leaf of hash size", (SOME_HASH, index, size, proof, root_)),
        ("empty root", (leaf, index, size, proof, EMPTY_ROOT)),
        ("random root", (leaf, index, size, proof, SOME_HASH)),
        ("trailing garbage", (leaf, index, size, [*proof, b""], root_)),
        ("trailing root", (leaf, index, size, [*proof, root_], root_)),
        ("preceding garbage", (leaf, index, size, [b"", *proof], root_)),
        ("preceding root", (leaf, index, size, [root_, *proof], root_)),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 3", (leaf, index, size, wrong, root_)))
    if proof:
        probes.append(("removed component", (leaf, index, size, proof[:-1], root_)))
    if len(proof) > 1:
        probes.append(
            ("inserted component", (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root_))
        )
    return probes


def _corrupt_consistency(old, new, old_root, new_root, proof):
    """corruptConsistencyProof() of verify_test.go: (description, args) that must not verify."""
    probes = [
        ("size1 - 1", (old - 1, new, old_root, new_root, proof)),
        ("size1 + 1", (old + 1, new, old_root, new_root, proof)),
        ("size1 ^ 2", (old ^ 2, new, old_root, new_root, proof)),
        ("size2 * 2", (old, new * 2, old_root, new_root, proof)),
        ("size2 / 2", (old, new // 2, old_root, new_root, proof)),
        ("wrong root1", (old, new, b"WrongRoot", new_root, proof)),
        ("wrong root2", (old, new, old_root, b"WrongRoot", proof)),
        ("wrong root1 of hash size", (old, new, SOME_HASH, new_root, proof)),
        ("wrong root2 of hash size", (old, new, old_root, SOME_HASH, proof)),
        ("swapped roots", (old, new, new_root, old_root, proof)),
        ("empty proof", (old, new, old_root, new_root, [])),
        ("trailing garbage", (old, new, old_root, new_root, [*proof, b""])),
        ("trailing root1", (old, new, old_root, new_root, [*proof, old_root])),
        ("trailing root2", (old, new, old_root, new_root, [*proof, new_root])),
        ("preceding garbage", (old, new, old_root, new_root, [b"", *proof])),
        ("preceding root1", (old, new, old_root, new_root, [old_root, *proof])),
        ("preceding root2", (old, new, old_root, new_root, [new_root, *proof])),
        ("preceding proof[0]", (old, new, old_root, new_root, [proof[0], *proof])),
        ("truncated proof", (old, new, old_root, new_root, proof[:-1])),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((f"modified proof[{i}] bit 4", (old, new, old_root, new_root, wrong)))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vector_probes_fail(index: int, size: int, proof: list[bytes]) -> None:
    leaf = leaf_hash(LEAF_INPUTS[index])
    for desc, args in _corrupt_inclusion(index, size, proof, ROOTS[size], leaf):
        with pytest.raises(ProofError):
            verify_inclusion(*args)
            pytest.fail(f"incorrectly verified: {desc}")


@pytest.mark.parametrize(("old", "new", "proof"), NON_TRIVIAL_CONSISTENCY_VECTORS)
def test_consistency_vector_probes_fail(old: int, new: int, proof: list[bytes]) -> None:
    for desc, args in _corrupt_consistency(old, new, ROOTS[old], ROOTS[new], proof):
        with pytest.raises(ProofError):
            verify_consistency(*args)
            pytest.fail(f"incorrectly verified: {desc}")


@pytest.mark.parametrize(
    ("root_", "leaf", "ok"),
    [
        ("hash", "hash", True),
        ("hash", "empty", False),
        ("empty", "hash", False),
        ("empty", "empty", False),
    ],
)
def test_verify_inclusion_single_entry(root_: str, leaf: str, ok: bool) -> None:
    """TestVerifyInclusionSingleEntry: a 1-entry tree's root is its leaf hash, proof empty."""
    values = {"hash": leaf_hash(b"data"), "empty": b""}
    if ok:
        verify_inclusion(values[leaf], 0, 1, [], values[root_])
    else:
        with pytest.raises(ProofError):
            verify_inclusion(values[leaf], 0, 1, [], values[root_])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_verify_inclusion_rejects_bad_root_or_leaf(index: int, size: int) -> None:
    """TestVerifyInclusion probes: empty/mismatching leaf and root never verify."""
    for leaf, root_ in [(SOME_HASH, b""), (b"", EMPTY_ROOT), (SOME_HASH, EMPTY_ROOT)]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, [], root_)


# TestVerifyConsistency's table. Its "don't care" roots are 12-byte strings there; here
# they are 32-byte stand-ins, because this verifier rejects hashes of the wrong size.
ROOT1 = hashlib.sha256(b"don't care 1").digest()
ROOT2 = hashlib.sha256(b"don't care 2").digest()


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "ok"),
    [
        (0, 0, ROOT1, ROOT2, [], False),
        (1, 1, ROOT1, ROOT2, [], False),
        # Sizes that are always consistent.
        (0, 0, ROOT1, ROOT1, [], True),
        (0, 1, ROOT1, ROOT2, [], True),
        (1, 1, ROOT2, ROOT2, [], True),
        # Time travel to the past.
        (1, 0, ROOT1, ROOT2, [], False),
        (2, 1, ROOT1, ROOT2, [], False),
        # Empty proof.
        (1, 2, ROOT1, ROOT2, [], False),
        # Roots don't match.
        (0, 0, EMPTY_ROOT, ROOT2, [], False),
        (1, 1, EMPTY_ROOT, ROOT2, [], False),
        # Roots match but the proof is not empty.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),
    ],
    ids=lambda v: v.hex()[:8] if isinstance(v, bytes) else None,
)
def test_verify_consistency_table(old, new, old_root, new_root, proof, ok) -> None:
    if ok:
        verify_consistency(old, new, old_root, new_root, proof)
    else:
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, proof)


# --- Input validation and error messages. ---


def test_proof_error_is_value_error_with_clear_messages() -> None:
    assert issubclass(ProofError, ValueError)
    leaf, proof = leaf_hash(LEAF_INPUTS[5]), _vector_tree().inclusion_proof(5, 8)
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(leaf, 8, 8, proof, ROOTS[8])
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(leaf, -1, 8, proof, ROOTS[8])
    with pytest.raises(ProofError, match="wrong inclusion proof length: got 2 hashes, expected 3"):
        verify_inclusion(leaf, 5, 8, proof[:2], ROOTS[8])
    with pytest.raises(ProofError, match="root mismatch"):
        verify_inclusion(leaf, 5, 8, proof, ROOTS[7])
    with pytest.raises(ProofError, match="proof hash 1 must be 32 bytes, got 31 bytes"):
        verify_inclusion(leaf, 5, 8, [proof[0], proof[1][1:], proof[2]], ROOTS[8])
    with pytest.raises(ProofError, match="leaf hash must be 32 bytes, got str"):
        verify_inclusion("00" * 32, 5, 8, proof, ROOTS[8])  # type: ignore[arg-type]
    cproof = _vector_tree().consistency_proof(6, 8)
    with pytest.raises(ProofError, match="larger than new tree size"):
        verify_consistency(8, 6, ROOTS[8], ROOTS[6], cproof)
    with pytest.raises(
        ProofError, match="wrong consistency proof length: got 2 hashes, expected 3"
    ):
        verify_consistency(6, 8, ROOTS[6], ROOTS[8], cproof[:2])
    with pytest.raises(ProofError, match="old root mismatch"):
        verify_consistency(6, 8, ROOTS[5], ROOTS[8], cproof)
    with pytest.raises(ProofError, match="new root mismatch"):
        verify_consistency(6, 8, ROOTS[6], ROOTS[7], cproof)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(8, 8, ROOTS[8], ROOTS[8], [ROOTS[8]])
    with pytest.raises(ProofError, match="non-negative"):
        verify_consistency(-1, 8, ROOTS[0], ROOTS[8], [])


def test_generators_reject_bad_arguments() -> None:
    tree = _vector_tree()
    for index, size in [(0, 0), (-1, 8), (8, 8), (3, 2)]:
        with pytest.raises(ValueError, match="out of range|empty tree"):
            inclusion_proof(index, size, tree.subtree)
    with pytest.raises(ValueError, match="non-negative"):
        inclusion_proof(0, -1, tree.subtree)
    for old, new in [(5, 4), (-1, 4), (1, -1)]:
        with pytest.raises(ValueError):
            consistency_proof(old, new, tree.subtree)
    assert consistency_proof(0, 8, tree.subtree) == []
    assert consistency_proof(5, 5, tree.subtree) == []
    with pytest.raises(ValueError, match="subtree hash for range"):
        inclusion_proof(0, 2, lambda start, end: b"short")


def test_primitives_and_memory_tree_reject_bad_hashes_and_ranges() -> None:
    with pytest.raises(ValueError, match="left child hash"):
        node_hash(b"\x00" * 31, EMPTY_ROOT)
    with pytest.raises(ValueError, match="right child hash"):
        node_hash(EMPTY_ROOT, b"\x00" * 33)
    with pytest.raises(ValueError, match="leaf hash 1"):
        root([EMPTY_ROOT, b"x"])
    tree = _vector_tree()
    with pytest.raises(ValueError):
        tree.append_leaf_hash(b"x")
    with pytest.raises(ValueError):
        MemoryTree([b"x"])
    with pytest.raises(ValueError, match="exceeds"):
        tree.root(9)
    with pytest.raises(ValueError, match="exceeds"):
        tree.inclusion_proof(0, 9)
    for start, end in [(0, 0), (3, 2), (-1, 2), (0, 9)]:
        with pytest.raises(ValueError, match="not a non-empty range"):
            tree.subtree(start, end)
    with pytest.raises(ValueError, match="out of range"):
        tree.leaf(8)
    assert tree.leaf(7) == leaf_hash(LEAF_INPUTS[7])
    assert tree.append(b"ninth") == 8
    assert tree.size == 9


# --- Exhaustive comparison with the reference model on small trees. ---

SMALL = 48


@functools.cache
def _small() -> tuple[MemoryTree, list[bytes]]:
    hashes = [leaf_hash(i.to_bytes(2, "big")) for i in range(SMALL)]
    return MemoryTree(hashes), hashes


def test_small_trees_match_reference_model_and_contract() -> None:
    tree, hashes = _small()
    for size in range(SMALL + 1):
        assert root(hashes[:size]) == tree.root(size) == _ref_mth(hashes[:size])
        for start in range(size):
            for end in range(start + 1, size + 1):
                assert tree.subtree(start, end) == _ref_mth(hashes[start:end])
    for size in range(1, SMALL + 1):
        checked = _contract_checked(tree, size)
        for index in range(size):
            proof = inclusion_proof(index, size, checked)
            assert proof == _ref_path(index, hashes[:size])
            verify_inclusion(hashes[index], index, size, proof, tree.root(size))
    for new in range(SMALL + 1):
        checked = _contract_checked(tree, new)
        for old in range(new + 1):
            proof = consistency_proof(old, new, checked)
            assert proof == _ref_proof(old, hashes[:new])
            verify_consistency(old, new, tree.root(old), tree.root(new), proof)


def test_root_of_100k_leaves() -> None:
    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(100_000)]
    assert root(hashes) == MemoryTree(hashes).root()
    assert root(hashes[:65_536]) == MemoryTree(hashes).subtree(0, 65_536)


# --- Property tests on a random tree of a few thousand leaves. ---

BIG = 5000


@functools.cache
def _big() -> MemoryTree:
    rng = random.Random(9162)
    tree = MemoryTree()
    for _ in range(BIG):
        tree.append(rng.randbytes(rng.randrange(64)))
    return tree


sizes = st.integers(min_value=1, max_value=BIG)
PROPERTY = settings(max_examples=250, deadline=None)


@st.composite
def leaf_in_tree(draw) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(0, size - 1)), size


@st.composite
def size_pair(draw) -> tuple[int, int]:
    new = draw(st.integers(min_value=0, max_value=BIG))
    return draw(st.integers(0, new)), new


@PROPERTY
@given(leaf_in_tree())
def test_every_inclusion_proof_verifies_and_respects_contract(case: tuple[int, int]) -> None:
    index, size = case
    tree = _big()
    proof = inclusion_proof(index, size, _contract_checked(tree, size))
    assert proof == tree.inclusion_proof(index, size)
    verify_inclusion(tree.leaf(index), index, size, proof, tree.root(size))


@PROPERTY
@given(size_pair())
def test_every_consistency_proof_verifies_and_respects_contract(case: tuple[int, int]) -> None:
    old, new = case
    tree = _big()
    proof = consistency_proof(old, new, _contract_checked(tree, new))
    assert proof == tree.consistency_proof(old, new)
    verify_consistency(old, new, tree.root(old), tree.root(new), proof)


@PROPERTY
@given(leaf_in_tree(), st.data())
def test_tampered_inclusion_proof_fails(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    tree = _big()
    leaf, good_root = tree.leaf(index), tree.root(size)
    proof = tree.inclusion_proof(index, size)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    tampered = [
        (_flip(leaf, bit), index, size, proof, good_root),
        (leaf, index, size, proof, _flip(good_root, bit)),
        (leaf, index, size, [*proof, data.draw(st.binary(min_size=32, max_size=32))], good_root),
    ]
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="element")
        tampered.append(
            (leaf, index, size, [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]], good_root)
        )
        tampered.append((leaf, index, size, proof[:i] + proof[i + 1 :], good_root))
        tampered.append((leaf, index, size, [*proof[:i], proof[i], *proof[i:]], good_root))
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda j: j != index), label="index")
        tampered.append((leaf, other, size, proof, good_root))
    for args in tampered:
        with pytest.raises(ProofError):
            verify_inclusion(*args)


@PROPERTY
@given(size_pair(), st.data())
def test_tampered_consistency_proof_fails(case: tuple[int, int], data: st.DataObject) -> None:
    old, new = case
    tree = _big()
    old_root, new_root = tree.root(old), tree.root(new)
    proof = tree.consistency_proof(old, new)
    bit = data.draw(st.integers(0, 8 * HASH_SIZE - 1), label="bit")
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    tampered = [
        (old, new, old_root, new_root, [*proof, extra]),
        (old, new, old_root, new_root, [extra, *proof]),
    ]
    if old:  # Every tree is consistent with the empty one, whatever its root.
        tampered.append((old, new, _flip(old_root, bit), new_root, proof))
        tampered.append((old, new, old_root, _flip(new_root, bit), proof))
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1), label="element")
        tampered.append(
            (old, new, old_root, new_root, [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]])
        )
        tampered.append((old, new, old_root, new_root, proof[:i] + proof[i + 1 :]))
        tampered.append((old, new, old_root, new_root, [*proof[:i], proof[i], *proof[i:]]))
        other_old = data.draw(st.integers(0, BIG).filter(lambda m: m != old), label="old size")
        tampered.append((other_old, new, old_root, new_root, proof))
    if old > 0 and new > 0:
        other_new = data.draw(st.integers(0, BIG).filter(lambda n: n != new), label="new size")
        if other_new < old:
            tampered.append((old, other_new, old_root, new_root, proof))
    for args in tampered:
        with pytest.raises(ProofError):
            verify_consistency(*args)


# RFC 9162 binds a proof to the tree size only through the root it is checked against: a
# proof also verifies under another size whose tree has the same path shape (leaf 0 has the
# same path in trees of 5 to 8 leaves). These tests pin that down exactly: an altered size
# or index verifies if and only if the RFC path shape is unchanged.


def _near(draw, value: int, low: int, label: str) -> int:
    """Draw a value often close to `value` (where shapes tend to coincide), within [low, BIG]."""
    near = st.integers(max(low, value - 16), max(low, min(BIG, value + 16)))
    return draw(st.one_of(st.just(value), near, st.integers(low, BIG)), label=label)


@PROPERTY
@given(leaf_in_tree(), st.data())
def test_inclusion_under_other_index_or_size_verifies_iff_same_shape(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    other_index = _near(data.draw, index, 0, "other index")
    other_size = _near(data.draw, size, 1, "other size")
    tree = _big()
    proof = tree.inclusion_proof(index, size)
    same_shape = other_index < other_size and (
        _inclusion_shape(index, size) == _inclusion_shape(other_index, other_size)
    )
    if other_size == size:
        assert same_shape == (other_index == index)
    try:
        verify_inclusion(tree.leaf(index), other_index, other_size, proof, tree.root(size))
        verified = True
    except ProofError:
        verified = False
    assert verified == same_shape


@PROPERTY
@given(size_pair(), st.data())
def test_consistency_under_other_sizes_verifies_iff_same_shape(
    case: tuple[int, int], data: st.DataObject
) -> None:
    old, new = case
    if old in (0, new):
        return
    other_old = _near(data.draw, old, 0, "other old size")
    other_new = _near(data.draw, new, 0, "other new size")
    tree = _big()
    proof = tree.consistency_proof(old, new)
    same_shape = 0 < other_old < other_new and (
        _consistency_shape(old, new) == _consistency_shape(other_old, other_new)
    )
    if other_new == new:
        assert same_shape == (other_old == old)
    try:
        verify_consistency(other_old, other_new, tree.root(old), tree.root(new), proof)
        verified = True
    except ProofError:
        verified = False
    assert verified == same_shape


def test_same_shape_examples_from_the_comment_above() -> None:
    tree = _vector_tree()
    verify_inclusion(tree.leaf(0), 0, 5, tree.inclusion_proof(0, 8), tree.root(8))
    verify_consistency(4, 6, tree.root(4), tree.root(8), tree.consistency_proof(4, 8))
