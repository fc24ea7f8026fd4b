"""Operator commands: ledger_vkey, ledger_keygen and anchor, run as an operator would."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from anchoring import keys, merkle
from anchoring.checkpoint import open_checkpoint
from anchoring.digest import digests
from anchoring.models import Entry, Submission
from anchoring.note import parse_verifier_key


def test_ledger_vkey_prints_the_verifier_key_of_the_signing_key():
    out = StringIO()
    call_command("ledger_vkey", stdout=out)
    line = out.getvalue()
    assert line.count("\n") == 1
    verifier = parse_verifier_key(line.strip())
    assert verifier.name == keys.signer().name
    assert verifier.key_id == keys.signer().key_id


def test_ledger_keygen_writes_a_new_key_and_never_overwrites(tmp_path):
    path = tmp_path / "log.key"
    out = StringIO()
    call_command("ledger_keygen", out=path, name="court.example/ledger", stdout=out)
    assert parse_verifier_key(out.getvalue().strip()).name == "court.example/ledger"
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(CommandError, match="already exists"):
        call_command("ledger_keygen", out=path, name="court.example/ledger")


@pytest.mark.django_db(transaction=True)
def test_anchor_prints_index_digests_and_a_verifiable_receipt(tmp_path, running_sequencer):
    files = []
    for i in range(3):
        path = tmp_path / f"report-{i}.pdf"
        path.write_bytes(b"statistics report %d" % i * 1000)
        files.append(path)
    out = StringIO()
    call_command("anchor", *map(str, files), stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]

    assert [line["file"] for line in lines] == [str(f) for f in files]
    checkpoint = open_checkpoint(lines[-1]["checkpoint"], keys.verifier())
    for path, line in zip(files, lines, strict=True):
        sha, sm = digests(path.read_bytes())
        assert (line["sha256"], line["sm3"]) == (sha.hex(), sm.hex())
        entry = Entry.objects.get(index=line["index"])
        assert bytes(entry.sha256) == sha
        assert line["tree_size"] >= line["index"] + 1
        cp = open_checkpoint(line["checkpoint"], keys.verifier())
        merkle.verify_inclusion(
            merkle.leaf_hash(bytes(entry.data)),
            line["index"],
            line["tree_size"],
            [bytes.fromhex(h) for h in line["inclusion_proof"]],
            cp.root_hash,
        )
    assert checkpoint.size >= 3


@pytest.mark.django_db
def test_anchor_refuses_unreadable_files_and_pools_nothing(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("ok")
    with pytest.raises(CommandError, match="cannot read") as excinfo:
        call_command("anchor", str(good), str(tmp_path / "missing.txt"))
    assert excinfo.value.returncode == 2
    assert not Submission.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_anchor_without_a_sequencer_says_each_file_stays_pooled(tmp_path, settings):
    settings.LEDGER_SEQUENCER = "off"
    files = []
    for i in range(2):
        path = tmp_path / f"minutes-{i}.txt"
        path.write_text(f"minutes {i}")
        files.append(str(path))
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("anchor", *files, "--timeout", "0.2", stdout=StringIO(), stderr=err)
    assert exited.value.code == 1
    assert [line.split(":")[0] for line in err.getvalue().splitlines()] == files
    assert err.getvalue().count("it stays pooled and will be integrated") == 2
    assert Submission.objects.count() == 2
