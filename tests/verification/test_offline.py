"""judicial-verify on published checkpoints and proofs of another log (the Go checksum
database) and on our own ledger, as a separate process, as a user would run it."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.anchoring.test_checkpoint import (
    SUMDB_CHECKPOINT,
    SUMDB_PROOF,
    SUMDB_PROOF_RECORD,
    SUMDB_VKEY,
)

ROOT = Path(__file__).resolve().parents[2]


def verify(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verification.offline", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def files(tmp_path):
    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)

    return write


def test_a_real_go_checksum_database_checkpoint_verifies(files):
    done = verify(
        "checkpoint",
        files("sumdb.note", SUMDB_CHECKPOINT),
        "--vkey",
        SUMDB_VKEY,
        "--origin",
        "go.sum database tree",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"tree size 6476701" in done.stdout
    assert done.stdout.strip().endswith(b"VERIFIED")


@pytest.mark.parametrize("position", [0, 22, 30, 60, 120])
def test_any_altered_character_of_it_fails(files, position):
    altered = list(SUMDB_CHECKPOINT)
    altered[position] = "X" if altered[position] != "X" else "Y"
    done = verify("checkpoint", files("sumdb.note", "".join(altered)), "--vkey", SUMDB_VKEY)
    assert done.returncode == 1, done.stdout
    assert b"FAILED at checkpoint signature" in done.stdout


def test_a_real_go_checksum_database_proof_verifies_for_its_record(files):
    proof = files("record.tlog-proof", SUMDB_PROOF)
    by_entry = verify(
        "proof", proof, "--vkey", SUMDB_VKEY, "--entry", files("record.raw", SUMDB_PROOF_RECORD)
    )
    assert by_entry.returncode == 0, by_entry.stdout + by_entry.stderr
    assert b"entry 43930254 is included in the tree of size 58253265" in by_entry.stdout


def test_the_proof_fails_for_another_record_or_a_changed_hash(files):
    proof = files("record.tlog-proof", SUMDB_PROOF)
    other = verify(
        "proof",
        proof,
        "--vkey",
        SUMDB_VKEY,
        "--entry",
        files("other.raw", SUMDB_PROOF_RECORD + b"x"),
    )
    assert other.returncode == 1 and b"FAILED at inclusion proof" in other.stdout
    changed = SUMDB_PROOF.replace(
        "Q2cuq1e21q4UC1RQ6wtmXmCxk2q3Wqz", "R2cuq1e21q4UC1RQ6wtmXmCxk2q3Wqz"
    )
    bad = verify(
        "proof",
        files("changed.tlog-proof", changed),
        "--vkey",
        SUMDB_VKEY,
        "--entry",
        files("record.raw", SUMDB_PROOF_RECORD),
    )
    assert bad.returncode == 1 and b"FAILED at inclusion proof" in bad.stdout


def test_an_unknown_key_is_a_failure_and_bad_input_is_unusable(files):
    from anchoring.note import new_signer_key

    other_key = new_signer_key("sum.golang.org")[1]
    note = files("sumdb.note", SUMDB_CHECKPOINT)
    assert verify("checkpoint", note, "--vkey", other_key).returncode == 1
    assert verify("checkpoint", note, "--vkey", "not a key").returncode == 2
    assert verify("checkpoint", "/nonexistent", "--vkey", SUMDB_VKEY).returncode == 2
    assert verify("proof", note, "--vkey", SUMDB_VKEY, "--leaf-hash", "00" * 32).returncode == 2
    assert verify("checkpoint").returncode == 2  # arguments missing


@pytest.mark.django_db
def test_our_own_ledger_through_its_api(client, files):
    from anchoring import keys, merkle
    from tests.anchoring.ledger import grow_ledger

    datas = grow_ledger(300, batch=300)
    body = client.get("/api/v1/ledger/proof/inclusion?index=257").json()
    done = verify(
        "proof",
        files("ours.tlog-proof", body["tlog_proof"]),
        "--vkey",
        keys.vkey(),
        "--leaf-hash",
        merkle.leaf_hash(datas[257]).hex(),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_imports_nothing_from_django():
    code = "import sys, verification.offline; sys.exit(any(m.startswith('django') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
