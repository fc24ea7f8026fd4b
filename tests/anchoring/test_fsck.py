"""ledger_fsck on the ledger itself: a clean log passes, every kind of tampering is named."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from anchoring import keys, merkle
from anchoring.checkpoint import Checkpoint as CheckpointBody
from anchoring.checkpoint import sign_checkpoint
from anchoring.models import Alarm, Checkpoint, Entry, FsckRun, Tile
from anchoring.note import new_signer_key, parse_signer_key
from tests.anchoring.ledger import grow_ledger

pytestmark = pytest.mark.django_db

LEDGER_TABLES = (
    "anchoring_entry",
    "anchoring_tile",
    "anchoring_checkpoint",
    "anchoring_publishedcheckpoint",
)


def fsck(*args: str) -> tuple[int, list[str]]:
    """Run the command; its exit code and its output lines (standard error last)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ledger_fsck", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue().splitlines() + err.getvalue().splitlines()


def tamper(sql: str, params=()) -> None:
    """Change ledger rows as an attacker with database access would: triggers off."""
    with connection.cursor() as cursor:
        for table in LEDGER_TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        cursor.execute(sql, params)
        for table in LEDGER_TABLES:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")


def lines_about(lines: list[str], where: str) -> list[str]:
    return [line for line in lines if line.startswith(where + ":")]


@pytest.fixture
def log():
    """600 entries in batches of 250: full tiles 0/0 and 0/1, checkpoints 0, 250, 500, 600."""
    return grow_ledger(600, batch=250)


def test_a_clean_ledger_exits_0_with_only_the_summary(log):
    code, lines = fsck()
    assert code == 0, lines
    assert len(lines) == 1
    assert lines[0].startswith("ledger_fsck: checked 600 entries, 2 full tiles, 4 checkpoints")
    assert lines[0].endswith(": clean")


def test_an_empty_database_is_clean():
    code, lines = fsck()
    assert code == 0
    assert len(lines) == 1
    assert lines[0].startswith("ledger_fsck: checked 0 entries, 0 full tiles, 0 checkpoints")


def test_the_json_output_carries_the_verdict_and_every_discrepancy(log):
    tamper('UPDATE anchoring_entry SET subject = %s WHERE "index" = 7', ["FAKE"])
    code, lines = fsck("--json")
    assert code == 1
    report = json.loads("\n".join(lines))
    assert report["exit_code"] == 1
    assert report["clean"] is False
    assert report["counts"]["entries"] == 600
    [d] = report["discrepancies"]
    assert d["table"] == "anchoring_entry"
    assert d["row"] == "index 7"
    assert d["expected"] == "nothing"
    assert d["found"] == "'FAKE'"


def test_a_changed_entry_byte_shows_in_its_columns_its_tile_and_every_later_checkpoint(log):
    # Byte 20 lies in the leaf's SHA-256 (after version, kind and time).
    tamper(
        "UPDATE anchoring_entry SET data = set_byte(data, 20, get_byte(data, 20) # 1) "
        'WHERE "index" = 300'
    )
    code, lines = fsck()
    assert code == 1
    [column] = lines_about(lines, "anchoring_entry index 300")
    assert "its sha256 column is not what its leaf holds" in column
    tile = lines_about(lines, "anchoring_tile level 0 index 1")
    assert len(tile) == 3  # its hash 44, its inner hashes, its root
    assert "the first being hash 44 (entries 300 to 300)" in tile[0]
    assert "root" in tile[2]
    for size in (500, 600):
        about = lines_about(lines, f"anchoring_checkpoint tree_size {size}")
        assert any("is not the root of entries 0 to" in line for line in about), about
    assert any(
        "not consistent with checkpoint 250" in line
        for line in lines_about(lines, "anchoring_checkpoint tree_size 500")
    )
    assert not lines_about(lines, "anchoring_checkpoint tree_size 250")
    assert lines[-1].endswith("discrepancies")


def test_a_change_before_the_first_checkpoint_breaks_every_consistency_proof_after_it(log):
    tamper(
        "UPDATE anchoring_entry SET data = set_byte(data, 9, get_byte(data, 9) # 1) "
        'WHERE "index" = 10'
    )
    code, lines = fsck()
    assert code == 1
    for size, previous in ((500, 250), (600, 500)):
        about = lines_about(lines, f"anchoring_checkpoint tree_size {size}")
        assert any(f"not consistent with checkpoint {previous}" in line for line in about), about
    assert any(
        "is not the root of entries 0 to 249" in line
        for line in lines_about(lines, "anchoring_checkpoint tree_size 250")
    )


def test_a_changed_tile_hash_is_named_and_nothing_else(log):
    tamper(
        "UPDATE anchoring_tile SET hashes = set_byte(hashes, 40, get_byte(hashes, 40) # 1) "
        "WHERE level = 0 AND index = 0"
    )
    code, lines = fsck()
    assert code == 1
    [line] = lines[:-1]
    assert line.startswith("anchoring_tile level 0 index 0: 1 of its hashes differ")
    assert "hash 1 (entries 1 to 1)" in line
    expected = merkle.leaf_hash(bytes(Entry.objects.get(index=1).data)).hex()
    assert f"expected {expected}" in line


def test_a_changed_tile_root_and_inner_hash_are_named(log):
    tamper(
        "UPDATE anchoring_tile SET root = set_byte(root, 0, get_byte(root, 0) # 1), "
        '"inner" = set_byte("inner", 100, get_byte("inner", 100) # 1) '
        "WHERE level = 0 AND index = 1"
    )
    code, lines = fsck()
    assert code == 1
    about = lines_about(lines, "anchoring_tile level 0 index 1")
    assert len(about) == 2
    assert "1 of its inner hashes differ" in about[0]
    assert "the first being inner hash 3" in about[0]
    assert "its root is not the root recomputed from the entries" in about[1]


def test_a_missing_tile_and_a_tile_the_entries_do_not_fill(log):
    tile = Tile.objects.get(level=0, index=1)
    tamper("DELETE FROM anchoring_tile WHERE level = 0 AND index = 1")
    Tile.objects.create(level=0, index=5, hashes=tile.hashes, inner=tile.inner, root=tile.root)
    code, lines = fsck()
    assert code == 1
    assert "the tile is missing; the tree needs it (entries 256 to 511)" in " ".join(
        lines_about(lines, "anchoring_tile level 0 index 1")
    )
    assert "do not fill it" in " ".join(lines_about(lines, "anchoring_tile level 0 index 5"))


def test_a_changed_checkpoint_root_column_is_named(log):
    tamper(
        "UPDATE anchoring_checkpoint SET root_hash = set_byte(root_hash, 0, "
        "get_byte(root_hash, 0) # 1) WHERE tree_size = 500"
    )
    code, lines = fsck()
    assert code == 1
    [line] = lines[:-1]
    assert line.startswith(
        "anchoring_checkpoint tree_size 500: its root_hash column is not the root its note signs"
    )


def test_a_deleted_checkpoint_is_missed_by_its_batch(log):
    tamper("DELETE FROM anchoring_checkpoint WHERE tree_size = 250")
    code, lines = fsck()
    assert code == 1
    [line] = lines[:-1]
    assert line.startswith(
        "anchoring_checkpoint tree_size 250: the checkpoint of the batch of entries 0 to 249"
    )


def test_a_deleted_newest_checkpoint_leaves_entries_beyond_the_newest(log):
    tamper("DELETE FROM anchoring_checkpoint WHERE tree_size = 600")
    code, lines = fsck()
    assert code == 1
    [line] = lines[:-1]
    assert line.startswith("anchoring_entry indexes 500 to 599: 100 entries lie beyond")


def test_a_checkpoint_signed_by_another_key_does_not_verify(log, settings):
    other = parse_signer_key(new_signer_key(settings.LEDGER_ORIGIN)[0])
    cp = Checkpoint.objects.get(tree_size=500)
    forged = sign_checkpoint(
        CheckpointBody(settings.LEDGER_ORIGIN, 500, bytes(cp.root_hash)), other
    )
    tamper("UPDATE anchoring_checkpoint SET note = %s WHERE tree_size = 500", [forged])
    code, lines = fsck()
    assert code == 1
    [line] = lines[:-1]
    assert line.startswith(
        "anchoring_checkpoint tree_size 500: its note does not verify with the log key"
    )


def test_a_checkpoint_re_signed_over_changed_entries_is_inconsistent(log, settings):
    """Even with the log key, rewriting an early entry cannot be made to look consistent."""
    tamper(
        "UPDATE anchoring_entry SET data = set_byte(data, 9, get_byte(data, 9) # 1) "
        'WHERE "index" = 300'
    )
    datas = [bytes(d) for d in Entry.objects.order_by("index").values_list("data", flat=True)]
    root = merkle.root([merkle.leaf_hash(d) for d in datas])
    note = sign_checkpoint(CheckpointBody(settings.LEDGER_ORIGIN, 600, root), keys.signer())
    tamper(
        "UPDATE anchoring_checkpoint SET note = %s, root_hash = %s WHERE tree_size = 600",
        [note, root],
    )
    code, lines = fsck()
    assert code == 1
    # Checkpoint 600 now matches the entries; only the proof from 500 shows the rewrite.
    about = lines_about(lines, "anchoring_checkpoint tree_size 600")
    assert len(about) == 1
    assert "not consistent with checkpoint 500" in about[0]


def test_changed_entry_columns_are_named(log):
    tamper('UPDATE anchoring_entry SET sha256 = %s, kind = 2 WHERE "index" = 42', [bytes(32)])
    code, lines = fsck()
    assert code == 1
    about = lines_about(lines, "anchoring_entry index 42")
    assert len(about) == 2
    assert (
        "its kind column is not what its leaf holds (expected 1 (ANCHOR), found 2 (RECORD))"
        in (about[0])
    )
    assert "its sha256 column" in about[1]
    assert f"found {bytes(32).hex()}" in about[1]


def test_a_deleted_entry_is_a_gap_and_stops_the_tree(log):
    tamper('DELETE FROM anchoring_entry WHERE "index" = 510')
    code, lines = fsck()
    assert code == 1
    assert lines[0].startswith(
        "anchoring_entry index 510: entry missing from the log; checkpoint 600 covers it"
    )
    assert any(
        line.startswith("anchoring_checkpoint tree_size 600: 1 checkpoint cannot be checked")
        for line in lines
    )


def test_a_malformed_leaf_is_named(log):
    tamper('UPDATE anchoring_entry SET data = %s WHERE "index" = 3', [b"\x09" + bytes(80)])
    code, lines = fsck()
    assert code == 1
    assert any(
        line.startswith("anchoring_entry index 3: its data is not a well-formed leaf")
        for line in lines
    )


def test_a_missing_log_key_exits_2(log, settings, tmp_path):
    settings.LEDGER_VERIFIER_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = tmp_path / "no.key"
    keys.signer.cache_clear()
    try:
        code, lines = fsck()
    finally:
        keys.signer.cache_clear()
    assert code == 2
    assert lines == [
        "ledger_fsck: cannot run: no log key: LEDGER_VERIFIER_KEY is not set and the signing "
        f"key {tmp_path / 'no.key'} does not exist"
    ]
    assert not (tmp_path / "no.key").exists()  # never created
    assert FsckRun.objects.get().exit_code == 2


def test_the_pinned_verifier_key_is_enough_and_a_wrong_one_fails_every_note(log, settings):
    """Workers hold no signing key: they check with LEDGER_VERIFIER_KEY."""
    settings.LEDGER_VERIFIER_KEY = keys.vkey()
    settings.LEDGER_SIGNING_KEY_FILE = settings.LEDGER_SIGNING_KEY_FILE.parent / "elsewhere.key"
    assert fsck()[0] == 0
    settings.LEDGER_VERIFIER_KEY = new_signer_key(settings.LEDGER_ORIGIN)[1]
    code, lines = fsck()
    assert code == 1
    assert len(lines) == 9  # checkpoints 0, 250, 500, 600, published the same, the summary
    assert all("its note does not verify with the log key" in line for line in lines[:-1])
    settings.LEDGER_VERIFIER_KEY = "not a key"
    code, lines = fsck()
    assert code == 2
    assert lines[0].startswith("ledger_fsck: cannot run: LEDGER_VERIFIER_KEY is not a verifier key")


def test_a_run_keeps_its_result_and_raises_an_alarm_per_discrepancy(log):
    tamper('UPDATE anchoring_entry SET subject = %s WHERE "index" = 7', ["FAKE"])
    fsck()
    fsck()
    [alarm] = Alarm.objects.all()
    assert alarm.source == Alarm.Source.FSCK
    assert alarm.subject == "entry 7"
    assert alarm.first_bad_index == 7
    assert alarm.count == 2
    assert alarm.message.startswith("anchoring_entry index 7: its subject column")
    run = FsckRun.objects.latest()
    assert (run.exit_code, run.discrepancies, run.entries) == (1, 1, 600)
    assert fsck("--no-keep")[0] == 1
    assert FsckRun.objects.count() == 2


def test_the_result_of_a_small_chunk_size_is_the_same(log, monkeypatch):
    """Chunks that end inside tiles and batches grow the same tree."""
    from anchoring import fsck as module

    tamper(
        "UPDATE anchoring_entry SET data = set_byte(data, 20, get_byte(data, 20) # 1) "
        'WHERE "index" = 300'
    )
    expected = fsck("--no-keep")[1][:-1]
    monkeypatch.setattr(module, "CHUNK", 37)
    assert fsck("--no-keep")[1][:-1] == expected


def test_operators_see_alarms_and_runs_in_the_admin_and_resolve_alarms(log, client):
    from django.contrib.auth import get_user_model

    tamper('UPDATE anchoring_entry SET subject = %s WHERE "index" = 7', ["FAKE"])
    fsck()
    client.force_login(get_user_model().objects.create_superuser("ops", password="pw-for-tests"))
    alarm = Alarm.objects.get()
    page = client.get("/admin/anchoring/alarm/").content.decode()
    assert "entry 7" in page
    assert (
        "ledger_fsck: checked 600 entries"
        in client.get("/admin/anchoring/fsckrun/").content.decode()
    )
    assert client.get("/admin/anchoring/alarm/add/").status_code == 403
    client.post(
        "/admin/anchoring/alarm/",
        {"action": "mark_resolved", "_selected_action": [alarm.pk]},
        follow=True,
    )
    alarm.refresh_from_db()
    assert alarm.resolved_at is not None
