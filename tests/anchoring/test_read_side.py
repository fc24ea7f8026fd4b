"""The HTTP read side: C2SP tlog-tiles paths and the JSON proof API."""

import pytest

from anchoring import keys, merkle
from anchoring.checkpoint import open_checkpoint, parse_proof
from anchoring.tiles import TileRef, decode_bundle, split_hashes
from tests.anchoring.ledger import content_leaf, grow_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger():
    """A ledger of 600 entries integrated in batches of 200 (checkpoints 200, 400, 600)."""
    return grow_ledger(600, batch=200)


def test_checkpoint_is_the_newest_signed_note(client, ledger):
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "max-age" in response["Cache-Control"]
    cp = open_checkpoint(response.content.decode(), keys.verifier())
    assert cp.size == 600
    assert cp.root_hash == merkle.root([merkle.leaf_hash(d) for d in ledger])


def test_checkpoint_before_the_first_batch_says_so(client):
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 503
    assert "no checkpoint" in response.content.decode()


def test_full_and_partial_tiles_and_bundles(client, ledger):
    full = client.get("/ledger/tile/0/001")
    assert full.status_code == 200
    assert full["Content-Type"] == "application/octet-stream"
    assert "immutable" in full["Cache-Control"]
    assert split_hashes(full.content) == [merkle.leaf_hash(d) for d in ledger[256:512]]

    partial = client.get("/ledger/tile/0/002.p/88")
    assert split_hashes(partial.content) == [merkle.leaf_hash(d) for d in ledger[512:600]]
    # A narrower partial tile of an older tree size is a prefix, still served.
    assert client.get("/ledger/tile/0/001.p/5").content == full.content[: 5 * 32]

    level1 = client.get("/ledger/tile/1/000.p/2")
    assert split_hashes(level1.content) == [
        merkle.root([merkle.leaf_hash(d) for d in ledger[i * 256 : (i + 1) * 256]]) for i in (0, 1)
    ]

    bundle = client.get("/ledger/tile/entries/002.p/88", HTTP_ACCEPT_ENCODING="identity")
    assert decode_bundle(bundle.content) == ledger[512:600]
    gzipped = client.get("/ledger/tile/entries/000", HTTP_ACCEPT_ENCODING="gzip")
    assert gzipped["Content-Encoding"] == "gzip"


@pytest.mark.parametrize(
    "path, status",
    [
        ("tile/0/002", 404),  # only 88 wide yet
        ("tile/0/002.p/89", 404),
        ("tile/0/003.p/1", 404),
        ("tile/2/000.p/1", 404),
        ("tile/entries/002", 404),
        ("tile/0/2", 400),  # not zero-padded
        ("tile/00/000", 400),  # leading zero in level
        ("tile/64/000", 400),
        ("tile/0/000.p/0", 400),
        ("tile/0/000.p/256", 400),
        ("tile/0/x000/001", 400),
        ("tile/0/001.p/005", 400),
        ("tile/data/000", 400),
    ],
)
def test_tiles_that_do_not_exist_or_are_malformed(client, ledger, path, status):
    response = client.get("/ledger/" + path)
    assert response.status_code == status, response.content


def test_entries_by_sha256_and_sm3(client, ledger):
    leaf = content_leaf(b"file 42")
    for name, digest in (("sha256", leaf.sha256), ("sm3", leaf.sm3)):
        response = client.get(f"/api/v1/ledger/entries?{name}={digest.hex().upper()}")
        assert response.status_code == 200
        body = response.json()
        assert body["tree_size"] == 600
        [entry] = body["entries"]
        assert entry["index"] == 42
        assert entry["kind"] == "anchor"
        assert bytes.fromhex(entry["leaf"]) == ledger[42]
        assert entry["leaf_hash"] == merkle.leaf_hash(ledger[42]).hex()
    missing = client.get("/api/v1/ledger/entries?sha256=" + "00" * 32).json()
    assert missing["entries"] == []


@pytest.mark.parametrize(
    "query, code, field",
    [
        ("", "missing_parameter", "sha256"),
        ("sha256=abc", "malformed_digest", "sha256"),
        ("sm3=" + "zz" * 32, "malformed_digest", "sm3"),
        ("sha256=" + "00" * 33, "malformed_digest", "sha256"),
        ("sha256=" + "00" * 32 + "&sm3=" + "00" * 32, "missing_parameter", "sha256"),
    ],
)
def test_entries_bad_parameters(client, ledger, query, code, field):
    response = client.get("/api/v1/ledger/entries?" + query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]["zh"] and error["message"]["en"]


def test_inclusion_proof_as_json_and_tlog_proof(client, ledger):
    body = client.get("/api/v1/ledger/proof/inclusion?index=300&size=400").json()
    assert body["tree_size"] == 400
    root = bytes.fromhex(body["root_hash"])
    assert root == merkle.root([merkle.leaf_hash(d) for d in ledger[:400]])
    proof = [bytes.fromhex(h) for h in body["hashes"]]
    merkle.verify_inclusion(merkle.leaf_hash(ledger[300]), 300, 400, proof, root)

    parsed = parse_proof(body["tlog_proof"])
    assert (parsed.index, list(parsed.hashes)) == (300, proof)
    assert open_checkpoint(parsed.checkpoint, keys.verifier()).root_hash == root


def test_inclusion_proof_defaults_to_newest_size_and_covers_uncheckpointed_sizes(client, ledger):
    assert client.get("/api/v1/ledger/proof/inclusion?index=0").json()["tree_size"] == 600
    body = client.get("/api/v1/ledger/proof/inclusion?index=5&size=333").json()
    assert body["checkpoint"] is None and body["tlog_proof"] is None
    merkle.verify_inclusion(
        merkle.leaf_hash(ledger[5]),
        5,
        333,
        [bytes.fromhex(h) for h in body["hashes"]],
        merkle.root([merkle.leaf_hash(d) for d in ledger[:333]]),
    )


def test_consistency_proof(client, ledger):
    body = client.get("/api/v1/ledger/proof/consistency?from=200&to=600").json()
    merkle.verify_consistency(
        200,
        600,
        bytes.fromhex(body["from_root"]),
        bytes.fromhex(body["to_root"]),
        [bytes.fromhex(h) for h in body["hashes"]],
    )
    assert body["to_root"] == merkle.root([merkle.leaf_hash(d) for d in ledger]).hex()


@pytest.mark.parametrize(
    "path, code, field",
    [
        ("inclusion?size=10", "missing_parameter", "index"),
        ("inclusion?index=-1", "invalid_parameter", "index"),
        ("inclusion?index=01", "invalid_parameter", "index"),
        ("inclusion?index=1.5", "invalid_parameter", "index"),
        ("inclusion?index=１", "invalid_parameter", "index"),
        ("inclusion?index=600", "out_of_range", "index"),
        ("inclusion?index=5&size=601", "out_of_range", "size"),
        ("inclusion?index=0&size=0", "out_of_range", "size"),
        ("inclusion?index=9&size=9", "out_of_range", "index"),
        ("consistency", "missing_parameter", "from"),
        ("consistency?from=10&to=5", "out_of_range", "from"),
        ("consistency?from=1&to=601", "out_of_range", "to"),
        ("consistency?from=x", "invalid_parameter", "from"),
    ],
)
def test_proof_bad_parameters(client, ledger, path, code, field):
    response = client.get("/api/v1/ledger/proof/" + path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field), error


def test_checkpoint_api(client, ledger):
    body = client.get("/api/v1/ledger/checkpoint").json()
    assert body["tree_size"] == 600
    assert open_checkpoint(body["note"], keys.verifier()).root_hash.hex() == body["root_hash"]


def test_schema_documents_the_ledger_api(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("entries", "proof/inclusion", "proof/consistency", "checkpoint"):
        operation = schema["paths"][f"/api/v1/ledger/{path}"]["get"]
        assert "200" in operation["responses"]


def test_tile_ref_paths_round_trip_through_the_server(client, ledger):
    ref = TileRef(0, 2, 88)
    assert client.get("/ledger/" + ref.path()).status_code == 200
    assert client.get("/ledger/" + ref.entries_path()).status_code == 200


# --- A ledger missing a row it needs: never a 500, never a made-up answer ------------------


def _delete_tile(level: int, index: int) -> None:
    """Remove one tile row as only someone bypassing the append-only trigger could."""
    from django.db import connection

    from anchoring import store

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE anchoring_tile DISABLE TRIGGER USER")
        cursor.execute(
            'DELETE FROM anchoring_tile WHERE level = %s AND "index" = %s', [level, index]
        )
        cursor.execute("ALTER TABLE anchoring_tile ENABLE TRIGGER USER")
    store.forget_tiles()


@pytest.mark.parametrize(
    ("path", "subject"),
    [
        ("tile/0/001", "tile/0/001"),  # the missing tile itself
        ("tile/1/000.p/2", "a tile below tile/1/000.p/2"),  # made of the missing tile's root
    ],
)
def test_a_missing_tile_row_is_a_clear_503_and_an_alarm(client, ledger, path, subject):
    from anchoring.models import Alarm, Entry, Tile

    _delete_tile(0, 1)
    counts = (Entry.objects.count(), Tile.objects.count())
    response = client.get("/ledger/" + path)
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    zh, en = response.content.decode().splitlines()
    assert "账本" in zh and en.isascii() and "ledger" in en
    [alarm] = Alarm.objects.filter(resolved_at__isnull=True)
    assert alarm.subject == subject
    assert (Entry.objects.count(), Tile.objects.count()) == counts


@pytest.mark.parametrize(
    "path",
    [
        "proof/inclusion?index=300",  # its proof needs the missing tile
        "proof/inclusion?index=10",  # its proof needs the missing tile's root
        "proof/consistency?from=200&to=600",
    ],
)
def test_proofs_needing_a_missing_tile_row_are_ledger_damaged(client, ledger, path):
    import re

    from anchoring.models import Alarm

    _delete_tile(0, 1)
    response = client.get("/api/v1/ledger/" + path)
    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert error["code"] == "ledger_damaged"
    assert re.search(r"[\u4e00-\u9fff]", error["message"]["zh"])
    assert error["message"]["en"].isascii()
    assert Alarm.objects.filter(resolved_at__isnull=True).count() == 1
    # The parts of the ledger that do not need the tile are still served.
    assert client.get("/api/v1/ledger/proof/inclusion?index=5&size=200").status_code == 200
    assert client.get("/ledger/tile/0/000").status_code == 200
