"""An outside auditor's check of the ledger, through its public surfaces only.

Nothing here imports the project's packages. The checker has its own code for everything:
C2SP signed-note verifier keys and checkpoints (https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint), C2SP tlog-tiles paths, tiles and entry bundles
(https://c2sp.org/tlog-tiles), and RFC 9162 section 2.1 hashing, inclusion proofs and
consistency proofs. The log is reached only by HTTP (a live server) and by its two
management commands run as separate processes (`ledger_vkey` and `anchor`).

The negative controls at the end show the checker is not vacuous: one changed character
in a signed checkpoint, one flipped bit in a proof or one changed byte in a tile is caught.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TILE_WIDTH = 256
HASH_SIZE = 32
ED25519 = 0x01


class AuditError(Exception):
    """Something the log served does not check out."""


# --- RFC 9162 section 2.1 -------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two strictly smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class ReferenceTree:
    """MTH, PATH and PROOF straight from the RFC's recursive definitions, over leaf hashes."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.leaves = list(leaf_hashes)
        self._mth: dict[tuple[int, int], bytes] = {}

    def mth(self, start: int, end: int) -> bytes:
        key = (start, end)
        if key not in self._mth:
            n = end - start
            if n == 0:
                value = sha256(b"")
            elif n == 1:
                value = self.leaves[start]
            else:
                k = largest_power_of_two_below(n)
                value = node_hash(self.mth(start, start + k), self.mth(start + k, end))
            self._mth[key] = value
        return self._mth[key]

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def path(self, m: int, size: int) -> list[bytes]:
        """PATH(m, D[size]) (RFC 9162 2.1.3.1)."""

        def rec(m: int, start: int, end: int) -> list[bytes]:
            n = end - start
            if n == 1:
                return []
            k = largest_power_of_two_below(n)
            if m < k:
                return rec(m, start, start + k) + [self.mth(start + k, end)]
            return rec(m - k, start + k, end) + [self.mth(start, start + k)]

        return rec(m, 0, size)

    def proof(self, m: int, size: int) -> list[bytes]:
        """PROOF(m, D[size]) = SUBPROOF(m, D[size], true) (RFC 9162 2.1.4.1)."""

        def sub(m: int, start: int, end: int, b: bool) -> list[bytes]:
            n = end - start
            if m == n:
                return [] if b else [self.mth(start, end)]
            k = largest_power_of_two_below(n)
            if m <= k:
                return sub(m, start, start + k, b) + [self.mth(start + k, end)]
            return sub(m - k, start + k, end, False) + [self.mth(start, start + k)]

        return sub(m, 0, size, True)


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2, step by step."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in path):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step (for 0 < first < second; trivial cases apart)."""
    if any(len(c) != HASH_SIZE for c in proof) or not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# --- C2SP signed notes and checkpoints ------------------------------------------------


def b64decode_canonical(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuditError(f"not base64: {text!r}") from exc
    if base64.b64encode(raw).decode() != text:
        raise AuditError(f"not canonical base64: {text!r}")
    return raw


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public_key: bytes

    def ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


def parse_vkey(vkey: str) -> VerifierKey:
    """`name+hex8keyid+base64(0x01 || key)`, checking the key id against the key."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise AuditError(f"verifier key is not name+id+key: {vkey!r}")
    name, hex_id, key64 = parts
    if not name or any(c.isspace() for c in name):
        raise AuditError(f"bad key name {name!r}")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise AuditError(f"key id is not 8 lowercase hex digits: {hex_id!r}")
    key = b64decode_canonical(key64)
    if len(key) != 33 or key[0] != ED25519:
        raise AuditError("verifier key is not a type-0x01 (Ed25519) 32-byte key")
    expected_id = sha256(name.encode() + b"\n" + key)[:4]
    if bytes.fromhex(hex_id) != expected_id:
        raise AuditError(f"key id {hex_id} does not match the key ({expected_id.hex()})")
    return VerifierKey(name, expected_id, key[1:])


@dataclass(frozen=True)
class SignedCheckpoint:
    origin: str
    size: int
    root: bytes
    text: str
    note: str


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The note text (up to and including the newline before the blank line) and its
    signature lines as (key name, base64-decoded key id || signature)."""
    if not note.endswith("\n"):
        raise AuditError("note does not end in a newline")
    cut = note.find("\n\n")
    if cut < 0:
        raise AuditError("note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    sigs = []
    for line in block[:-1].split("\n"):
        match = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if match is None:
            raise AuditError(f"malformed signature line {line!r}")
        sigs.append((match[1], b64decode_canonical(match[2])))
    if not sigs:
        raise AuditError("note has no signature lines")
    return text, sigs


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise AuditError("checkpoint needs origin, size and root lines")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]):
        raise AuditError(f"tree size line is not a canonical decimal: {lines[1]!r}")
    root = b64decode_canonical(lines[2])
    if len(root) != HASH_SIZE:
        raise AuditError("root hash is not 32 bytes")
    return lines[0], int(lines[1]), root


def open_checkpoint(note: str, vkey: VerifierKey) -> SignedCheckpoint:
    """Verify the note's signature by vkey with Ed25519 directly, then parse the text."""
    text, sigs = split_note(note)
    mine = [raw for name, raw in sigs if name == vkey.name and raw[:4] == vkey.key_id]
    if not mine:
        raise AuditError("no signature line by the log's key")
    for raw in mine:
        if len(raw) != 4 + 64:
            raise AuditError("Ed25519 signature line is not 4 + 64 bytes")
        try:
            vkey.ed25519().verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise AuditError("signature does not verify") from None
    origin, size, root = parse_checkpoint_text(text)
    return SignedCheckpoint(origin, size, root, text, note)


# --- C2SP tlog-tiles ------------------------------------------------------------------


def encode_index(n: int) -> str:
    """1234067 -> x001/x234/067."""
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + groups[-1:])


def tile_path(level: int | str, n: int, width: int) -> str:
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(n)}{suffix}"


def tiles_for_size(size: int) -> list[tuple[int, int, int]]:
    """(level, index, width) of every tile of a tree: full ones and the partial edge."""
    out, level = [], 0
    while size // TILE_WIDTH**level > 0:
        count = size // TILE_WIDTH**level  # hashes at this level
        out += [(level, n, TILE_WIDTH) for n in range(count // TILE_WIDTH)]
        if count % TILE_WIDTH:
            out.append((level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return out


Tiles = dict[tuple[int, int], list[bytes]]


def split_hashes(data: bytes) -> list[bytes]:
    if len(data) % HASH_SIZE:
        raise AuditError("tile length is not a multiple of 32")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def leaves_from_tiles(size: int, tiles: Tiles) -> list[bytes]:
    """All leaf hashes of the tree, from its level-0 tiles."""
    leaves = []
    for level, n, _ in tiles_for_size(size):
        if level == 0:
            leaves += tiles[(0, n)]
    if len(leaves) != size:
        raise AuditError("level-0 tiles do not hold tree-size leaf hashes")
    return leaves


def check_tile_levels(size: int, tiles: Tiles) -> None:
    """Each hash at level L >= 1 is the MTH of the full tile below it."""
    for level, n, width in tiles_for_size(size):
        if level == 0:
            continue
        for i, h in enumerate(tiles[(level, n)][:width]):
            below = tiles[(level - 1, n * TILE_WIDTH + i)]
            if len(below) != TILE_WIDTH or ReferenceTree(below).root(TILE_WIDTH) != h:
                raise AuditError(f"tile {level}/{n} hash {i} is not the MTH of the tile below")


def root_from_tiles(size: int, tiles: Tiles) -> bytes:
    """MTH(D[0:size]) from the highest tiles only: the tree splits into complete subtrees
    (one per set bit of size, biggest first), each the MTH of 2**r consecutive hashes of
    a tile at level L where its height is 8L + r; the root folds them right to left."""
    if size == 0:
        return sha256(b"")
    subtrees, start = [], 0
    for height in reversed(range(size.bit_length())):
        if not size >> height & 1:
            continue
        level, r = divmod(height, 8)
        first = start // TILE_WIDTH**level  # position at that level
        n, offset = divmod(first, TILE_WIDTH)
        chunk = tiles[(level, n)][offset : offset + (1 << r)]
        if len(chunk) != 1 << r:
            raise AuditError(f"tile {level}/{n} is too short")
        subtrees.append(ReferenceTree(chunk).root(1 << r))
        start += 1 << height
    root = subtrees.pop()
    while subtrees:
        root = node_hash(subtrees.pop(), root)
    return root


def decode_bundle(data: bytes) -> list[bytes]:
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise AuditError("truncated entry length in bundle")
        length = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + length > len(data):
            raise AuditError("truncated entry in bundle")
        entries.append(data[pos : pos + length])
        pos += length
    return entries


# --- The live log ---------------------------------------------------------------------


class Log:
    """The log's HTTP read side."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            f"{self.base}/{path}", headers={"Accept-Encoding": "gzip, identity"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, headers, body = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, body = exc.code, dict(exc.headers), exc.read()
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return status, headers, body

    def ok(self, path: str, content_type: str | None = None) -> bytes:
        status, headers, body = self.get(path)
        assert status == 200, f"GET {path}: {status} {body[:200]!r}"
        if content_type is not None:
            assert headers.get("Content-Type") == content_type, (path, headers)
        return body

    def json(self, path: str) -> dict:
        return json.loads(self.ok(path, "application/json"))

    def checkpoint(self, vkey: VerifierKey) -> SignedCheckpoint:
        note = self.ok("ledger/checkpoint", "text/plain; charset=utf-8").decode("utf-8")
        return open_checkpoint(note, vkey)

    def tile(self, level: int, n: int, width: int) -> list[bytes]:
        status, headers, body = self.get("ledger/" + tile_path(level, n, width))
        if status == 404 and width < TILE_WIDTH:
            # tlog-tiles lets a log drop a partial tile once the full one exists; a
            # client then reads the full tile and keeps its first `width` hashes.
            body = self.ok("ledger/" + tile_path(level, n, TILE_WIDTH))[: width * HASH_SIZE]
        else:
            assert status == 200, f"tile {level}/{n}.p/{width}: {status} {body[:200]!r}"
            assert headers.get("Content-Type") == "application/octet-stream"
        hashes = split_hashes(body)
        assert len(hashes) == width, f"tile {level}/{n} has {len(hashes)} hashes, not {width}"
        return hashes

    def tiles(self, size: int) -> Tiles:
        return {(lv, n): self.tile(lv, n, w) for lv, n, w in tiles_for_size(size)}

    def bundle(self, n: int, width: int) -> list[bytes]:
        body = self.ok("ledger/" + tile_path("entries", n, width), "application/octet-stream")
        return decode_bundle(body)


def command_env() -> dict[str, str]:
    """os.environ, pointed at the live test database, integrating its own submissions."""
    from django.db import connection  # only to find the test database

    db = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env["LEDGER_SEQUENCER"] = "thread"
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def anchor(env: dict[str, str], files: list[Path]) -> list[dict]:
    out = manage(env, "anchor", *map(str, files))
    receipts = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert len(receipts) == len(files), out[-2000:]
    return receipts


def write_files(folder: Path, count: int, tag: str) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"{tag}-{i:04d}.bin"
        # Distinct contents of varied lengths.
        path.write_bytes(f"{tag} court file {i}\n".encode() * (1 + i % 7) + os.urandom(i % 5))
        paths.append(path)
    return paths


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


# --- The checks -----------------------------------------------------------------------


def check_receipts(
    receipts: list[dict],
    files: list[Path],
    vkey: VerifierKey,
    leaves: list[bytes],
    bundles: dict[int, list[bytes]],
) -> dict[int, SignedCheckpoint]:
    """Each printed receipt: digests recomputed from the file, leaf in tile and bundle,
    and its own signed checkpoint and inclusion proof. Returns the receipts' checkpoints."""
    seen: dict[int, SignedCheckpoint] = {}
    for receipt, path in zip(receipts, files, strict=True):
        data = path.read_bytes()
        assert receipt["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert receipt["sm3"] == sm3(data).hex(), path
        index, printed = receipt["index"], bytes.fromhex(receipt["leaf_hash"])
        assert leaves[index] == printed, f"tile leaf hash at {index} differs from the receipt"
        entry = bundles[index // TILE_WIDTH][index % TILE_WIDTH]
        assert leaf_hash(entry) == printed, f"bundle entry {index} does not hash to the receipt"
        # The leaf commits to the file: both of its digests are in the leaf bytes.
        assert hashlib.sha256(data).digest() in entry and sm3(data) in entry
        cp = open_checkpoint(receipt["checkpoint"], vkey)
        assert cp.size == receipt["tree_size"] > index
        proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]]
        assert verify_inclusion(printed, index, cp.size, proof, cp.root)
        seen[cp.size] = cp
    return seen


def check_tiles_and_bundles(log: Log, cp: SignedCheckpoint) -> tuple[list[bytes], dict]:
    """Rebuild cp's root from tiles in two independent ways; read every entry bundle."""
    tiles = log.tiles(cp.size)
    assert len([t for t in tiles_for_size(cp.size) if t[0] == 0]) > 1, "needs several tiles"
    leaves = leaves_from_tiles(cp.size, tiles)
    assert ReferenceTree(leaves).root(cp.size) == cp.root, "level-0 tiles do not give the root"
    check_tile_levels(cp.size, tiles)
    assert root_from_tiles(cp.size, tiles) == cp.root, "upper tiles do not give the root"
    bundles = {}
    for level, n, width in tiles_for_size(cp.size):
        if level == 0:
            bundles[n] = log.bundle(n, width)
            assert len(bundles[n]) == width
            assert [leaf_hash(e) for e in bundles[n]] == tiles[(0, n)]
    return leaves, bundles


def check_api_inclusion(log: Log, cp: SignedCheckpoint, tree: ReferenceTree, indices) -> int:
    for i in indices:
        got = log.json(f"api/v1/ledger/proof/inclusion?index={i}&size={cp.size}")
        assert (got["index"], got["tree_size"]) == (i, cp.size)
        assert bytes.fromhex(got["leaf_hash"]) == tree.leaves[i]
        assert bytes.fromhex(got["root_hash"]) == cp.root  # compared only
        path = [bytes.fromhex(h) for h in got["hashes"]]
        # Verified against the leaf hash read from the tiles and the SIGNED root.
        assert verify_inclusion(tree.leaves[i], i, cp.size, path, cp.root), f"index {i}"
        assert path == tree.path(i, cp.size), f"index {i}: not RFC 9162 PATH order"
    return len(indices)


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def test_reference_merkle_code_agrees_with_itself_on_small_trees():
    """The checker's verifiers accept the RFC's own PATH/PROOF and reject altered ones."""
    assert encode_index(1234067) == "x001/x234/067" and encode_index(5) == "005"
    assert tile_path(0, 1000, 7) == "tile/0/x001/000.p/7"
    # The spec's example: size 70,000.
    widths = [(lv, w) for lv, _, w in tiles_for_size(70_000) if w < TILE_WIDTH]
    assert widths == [(0, 112), (1, 17), (2, 1)]
    assert len([t for t in tiles_for_size(70_000) if t[0] == 0 and t[2] == 256]) == 273
    tree = ReferenceTree([leaf_hash(bytes([i])) for i in range(40)])
    for size in range(1, 41):
        root = tree.root(size)
        for i in range(size):
            path = tree.path(i, size)
            assert verify_inclusion(tree.leaves[i], i, size, path, root)
            assert not verify_inclusion(tree.leaves[i], i, size, path, flip(root))
            for j in range(len(path)):
                bad = path[:j] + [flip(path[j])] + path[j + 1 :]
                assert not verify_inclusion(tree.leaves[i], i, size, bad, root)
        for m in range(1, size):
            proof = tree.proof(m, size)
            assert verify_consistency(m, size, tree.root(m), root, proof)
            assert not verify_consistency(m, size, tree.root(m), flip(root), proof)
            assert not verify_consistency(m, size, flip(tree.root(m)), root, proof)
            assert not verify_consistency(m, size, tree.root(m), root, proof[:-1])


@pytest.mark.django_db(transaction=True)
def test_independent_check_of_the_live_log(live_server, tmp_path):
    log = Log(live_server.url)
    env = command_env()

    vkey_out = manage(env, "ledger_vkey")
    assert len(vkey_out.splitlines()) == 1, vkey_out
    vkey = parse_vkey(vkey_out.strip())

    # --- 1. First set of files: checkpoint A --------------------------------------
    files_a = write_files(tmp_path / "a", 300, "first")
    receipts_a = anchor(env, files_a[:200]) + anchor(env, files_a[200:])
    assert sorted(r["index"] for r in receipts_a) == list(range(300)), "gap or duplicate"

    a = log.checkpoint(vkey)
    assert a.origin == vkey.name, "the log's key is named after its origin"
    assert a.size == 300 >= max(r["tree_size"] for r in receipts_a)

    leaves_a, bundles_a = check_tiles_and_bundles(log, a)
    tree_a = ReferenceTree(leaves_a)
    receipt_cps = check_receipts(receipts_a, files_a, vkey, leaves_a, bundles_a)
    # Every checkpoint a receipt carried is consistent with A.
    for old in receipt_cps.values():
        if old.size < a.size:
            got = log.json(f"api/v1/ledger/proof/consistency?from={old.size}&to={a.size}")
            proof = [bytes.fromhex(h) for h in got["hashes"]]
            assert verify_consistency(old.size, a.size, old.root, a.root, proof)
        else:
            assert old.root == a.root
    # Inclusion proofs of every entry of A, against A's signed root.
    assert check_api_inclusion(log, a, tree_a, range(a.size)) == 300
    # Tiles that A does not have yet are not served (tlog-tiles: no empty tiles).
    assert log.get("ledger/tile/0/001")[0] == 404
    assert log.get("ledger/tile/0/001.p/45")[0] == 404
    assert log.get("ledger/tile/entries/002.p/1")[0] == 404

    # --- 2. More files: checkpoint B, consistent with A -----------------------------
    files_b = write_files(tmp_path / "b", 250, "second")
    receipts_b = anchor(env, files_b)
    assert sorted(r["index"] for r in receipts_b) == list(range(300, 550))

    b = log.checkpoint(vkey)
    assert (b.origin, b.size) == (a.origin, 550)
    leaves_b, bundles_b = check_tiles_and_bundles(log, b)
    tree_b = ReferenceTree(leaves_b)
    assert leaves_b[: a.size] == leaves_a, "the log rewrote history"
    check_receipts(receipts_b, files_b, vkey, leaves_b, bundles_b)
    # A's root still rebuilds from the tiles now that the log has grown.
    tiles_a_later = log.tiles(a.size)
    assert root_from_tiles(a.size, tiles_a_later) == a.root
    assert ReferenceTree(leaves_from_tiles(a.size, tiles_a_later)).root(a.size) == a.root

    got = log.json(f"api/v1/ledger/proof/consistency?from={a.size}&to={b.size}")
    assert (got["from"], got["to"]) == (a.size, b.size)
    # The API's roots are only compared; the proof is checked against the SIGNED roots.
    assert bytes.fromhex(got["from_root"]) == a.root
    assert bytes.fromhex(got["to_root"]) == b.root
    consistency = [bytes.fromhex(h) for h in got["hashes"]]
    assert verify_consistency(a.size, b.size, a.root, b.root, consistency)
    assert consistency == tree_b.proof(a.size, b.size), "not RFC 9162 PROOF order"
    for first in (1, 2, 255, 256, 257, 512):
        got = log.json(f"api/v1/ledger/proof/consistency?from={first}&to={b.size}")
        proof = [bytes.fromhex(h) for h in got["hashes"]]
        assert verify_consistency(first, b.size, tree_b.root(first), b.root, proof), first
    assert log.json(f"api/v1/ledger/proof/consistency?from={b.size}&to={b.size}")["hashes"] == []

    sample = sorted({0, 1, 255, 256, 299, 300, 301, 511, 512, 513, b.size - 1})
    check_api_inclusion(log, b, tree_b, sample)
    # Historical size A still proves against A's signed root after B.
    check_api_inclusion(log, a, tree_a, [0, 255, 256, a.size - 1])
    # Sizes with no checkpoint (the server derives partial tiles for them): proofs must
    # match the RFC's, with roots from the leaves that B's signed root vouches for.
    odd_sizes = [1, 3, 255, 256, 257, 383, 511, 512, 513]
    for n in odd_sizes:
        for i in sorted({0, n // 2, n - 1, 255, 256} & set(range(n))):
            got = log.json(f"api/v1/ledger/proof/inclusion?index={i}&size={n}")
            path = [bytes.fromhex(h) for h in got["hashes"]]
            assert verify_inclusion(tree_b.leaves[i], i, n, path, tree_b.root(n)), (i, n)
        for m in [s for s in odd_sizes if s < n]:
            got = log.json(f"api/v1/ledger/proof/consistency?from={m}&to={n}")
            proof = [bytes.fromhex(h) for h in got["hashes"]]
            assert verify_consistency(m, n, tree_b.root(m), tree_b.root(n), proof), (m, n)

    # --- 3. Negative controls: the checker catches one-character changes ----------
    lines = a.note.split("\n")
    root_line = lines[2]
    lines[2] = ("B" if root_line[0] == "A" else "A") + root_line[1:]
    tampered = "\n".join(lines)
    assert parse_checkpoint_text(split_note(tampered)[0])[2] != a.root  # still well formed
    with pytest.raises(AuditError, match="signature does not verify"):
        open_checkpoint(tampered, vkey)
    # A signature under the right key name and id but another key fails too.
    text, _ = split_note(tampered)
    forged = Ed25519PrivateKey.generate().sign(text.encode())
    forged_line = f"\u2014 {vkey.name} {base64.b64encode(vkey.key_id + forged).decode()}\n"
    with pytest.raises(AuditError, match="signature does not verify"):
        open_checkpoint(text + "\n" + forged_line, vkey)

    for i in (0, 255, 256, a.size - 1):
        got = log.json(f"api/v1/ledger/proof/inclusion?index={i}&size={a.size}")
        path = [bytes.fromhex(h) for h in got["hashes"]]
        assert verify_inclusion(leaves_a[i], i, a.size, path, a.root)
        for j in range(len(path)):
            bad = path[:j] + [flip(path[j], bit=j % 8)] + path[j + 1 :]
            assert not verify_inclusion(leaves_a[i], i, a.size, bad, a.root), (i, j)
        assert not verify_inclusion(leaves_a[i], i ^ 1, a.size, path, a.root)
        assert not verify_inclusion(leaves_a[i], i, a.size, path[:-1], a.root)

    for j in range(len(consistency)):
        bad = consistency[:j] + [flip(consistency[j])] + consistency[j + 1 :]
        assert not verify_consistency(a.size, b.size, a.root, b.root, bad), j
    assert not verify_consistency(a.size, b.size, b.root, a.root, consistency)

    tiles_b = log.tiles(b.size)
    changed = dict(tiles_b)
    changed[(0, 1)] = [*tiles_b[(0, 1)]]
    changed[(0, 1)][17] = bytes([changed[(0, 1)][17][0] ^ 0x01]) + changed[(0, 1)][17][1:]
    assert ReferenceTree(leaves_from_tiles(b.size, changed)).root(b.size) != b.root
    with pytest.raises(AuditError, match="not the MTH"):
        check_tile_levels(b.size, changed)
    changed = dict(tiles_b)
    changed[(1, 0)] = [flip(tiles_b[(1, 0)][0], bit=7), *tiles_b[(1, 0)][1:]]
    assert root_from_tiles(b.size, changed) != b.root
    changed = dict(tiles_b)
    edge = tiles_b[(0, 2)]
    changed[(0, 2)] = edge[:-1] + [edge[-1][:-1] + bytes([edge[-1][-1] ^ 0x80])]
    assert root_from_tiles(b.size, changed) != b.root
