"""The sequencer against real PostgreSQL: batches, checkpoints, crashes, receipts."""

import pytest
from django.db import DatabaseError, connection, transaction

from anchoring import keys, merkle, sequencer, store
from anchoring.checkpoint import open_checkpoint
from anchoring.models import Checkpoint, Entry, Submission, Tile
from tests.anchoring.ledger import content_leaf, grow_ledger, verify_each_consistent_with_the_next

pytestmark = pytest.mark.django_db


def _checkpoints() -> list[Checkpoint]:
    return list(Checkpoint.objects.order_by("tree_size"))


def test_batches_write_contiguous_entries_full_tiles_and_signed_checkpoints():
    datas = grow_ledger(600, batch=250)

    assert list(Entry.objects.values_list("index", flat=True)) == list(range(600))
    assert [(t.level, t.index) for t in Tile.objects.all()] == [(0, 0), (0, 1)]
    # One checkpoint for the empty tree, then one per batch.
    assert [cp.tree_size for cp in _checkpoints()] == [0, 250, 500, 600]
    expected_roots = {
        size: merkle.root([merkle.leaf_hash(d) for d in datas[:size]]) for size in (250, 500, 600)
    }
    for cp in _checkpoints()[1:]:
        parsed = open_checkpoint(cp.note, keys.verifier(), origin=keys.signer().name)
        assert parsed.size == cp.tree_size
        assert parsed.root_hash == bytes(cp.root_hash) == expected_roots[cp.tree_size]
    assert not Submission.objects.exists()


def test_stored_tiles_hold_leaf_hashes_inner_hashes_and_their_roots():
    datas = grow_ledger(512, batch=300)
    tile = Tile.objects.get(level=0, index=1)
    hashes = [merkle.leaf_hash(d) for d in datas[256:512]]
    assert bytes(tile.hashes) == b"".join(hashes)
    assert bytes(tile.root) == merkle.root(hashes)
    # Inner hashes, level by level: 128 pairs, then 64, ..., then the root itself.
    inner = bytes(tile.inner)
    assert len(inner) == 255 * 32
    assert inner[:32] == merkle.node_hash(hashes[0], hashes[1])
    assert inner[-32:] == bytes(tile.root)


def test_each_checkpoint_is_consistent_with_the_next():
    grow_ledger(1000, batch=137)
    cps = _checkpoints()
    verify_each_consistent_with_the_next(cps)


def test_an_empty_pool_adds_nothing_but_gives_a_new_log_its_first_checkpoint():
    assert sequencer.integrate() == 0
    assert [cp.tree_size for cp in _checkpoints()] == [0]
    assert bytes(_checkpoints()[0].root_hash) == merkle.EMPTY_ROOT
    assert sequencer.integrate() == 0
    assert Checkpoint.objects.count() == 1


def test_a_crash_inside_a_batch_keeps_the_pool_and_leaves_no_gap(monkeypatch):
    grow_ledger(10)
    Submission.objects.bulk_create(
        Submission(data=content_leaf(f"late {i}".encode()).encode()) for i in range(5)
    )

    def crash(*args, **kwargs):
        raise DatabaseError("disk full while writing the checkpoint")

    # The entries and tiles of the batch are written before the checkpoint: fail there.
    monkeypatch.setattr(Checkpoint.objects, "create", crash)
    with pytest.raises(DatabaseError):
        sequencer.integrate()
    monkeypatch.undo()

    assert Entry.objects.count() == 10
    assert Submission.objects.count() == 5
    assert sequencer.integrate() == 5
    assert list(Entry.objects.values_list("index", flat=True)) == list(range(15))
    assert store.tree_size() == 15


def test_inclusion_proofs_from_tiles_verify_for_every_entry_and_older_sizes():
    datas = grow_ledger(700, batch=256)
    for size in (1, 255, 256, 257, 512, 700):
        root = store.root_hash(size)
        assert root == merkle.root([merkle.leaf_hash(d) for d in datas[:size]])
        for index in {0, size // 2, size - 1}:
            proof = store.inclusion_proof(index, size)
            merkle.verify_inclusion(merkle.leaf_hash(datas[index]), index, size, proof, root)


@pytest.mark.parametrize("table", [Entry, Tile, Checkpoint])
def test_ledger_rows_refuse_update_and_delete(table):
    grow_ledger(300)
    count = table.objects.count()
    db_table, pk = table._meta.db_table, table._meta.pk.column
    for sql in (f"UPDATE {db_table} SET {pk} = {pk} + 1000000", f"DELETE FROM {db_table}"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        table.objects.all().delete()
    assert table.objects.count() == count


def test_integrated_entries_record_kind_and_digests_from_the_leaf():
    leaf = content_leaf(b"court archive 2026")
    Submission.objects.create(data=leaf.encode())
    sequencer.integrate()
    entry = Entry.objects.get()
    assert (entry.kind, bytes(entry.sha256), bytes(entry.sm3)) == (
        leaf.kind,
        leaf.sha256,
        leaf.sm3,
    )


# --- Waiting for a submission: the per-process poller --------------------------------------


def _verified(receipt: sequencer.Receipt, data: bytes) -> None:
    cp = open_checkpoint(receipt.checkpoint, keys.verifier(), origin=keys.signer().name)
    assert receipt.leaf_hash == merkle.leaf_hash(data)
    merkle.verify_inclusion(
        receipt.leaf_hash, receipt.index, cp.size, receipt.inclusion_proof, cp.root_hash
    )


@pytest.mark.django_db(transaction=True)
def test_a_waiter_finds_its_entry_integrated_before_or_while_it_waits(settings):
    import threading

    settings.LEDGER_SEQUENCER = "off"
    early, late = content_leaf(b"early"), content_leaf(b"late")
    early_id = sequencer.submit(early)
    sequencer.integrate()  # before anyone waits: found by its id
    receipt = sequencer.wait(early_id, timeout=10)
    _verified(receipt, early.encode())

    late_id = sequencer.submit(late)
    found = {}
    thread = threading.Thread(target=lambda: found.update(r=sequencer.wait(late_id, timeout=10)))
    thread.start()
    threading.Event().wait(5 * settings.LEDGER_SUBMIT_POLL)  # polls that find nothing
    grow_ledger(300, batch=300)  # other entries around it, in the same batch
    thread.join(15)
    connection.close()
    _verified(found["r"], late.encode())
    assert found["r"].index > receipt.index


@pytest.mark.django_db(transaction=True)
def test_a_poll_reads_only_the_entries_added_since_the_last(django_assert_max_num_queries):
    ids = [sequencer.submit(content_leaf(bytes([n]))) for n in range(3)]
    sequencer.integrate()
    size = store.tree_size()
    later = sequencer.submit(content_leaf(b"later"))
    sequencer.integrate()
    waiting = {*ids, later}
    # The first three were seen by an earlier poll at `size`: only the range above it.
    found, seen = sequencer._receipts_of(waiting, set(), size)
    assert [s for s, _ in found] == [later] and seen == size + 1
    # A poll that has seen nothing yet (None) looks every waiter up by id.
    found, seen = sequencer._receipts_of(waiting, set(), None)
    assert sorted(s for s, _ in found) == sorted(waiting) and seen == size + 1
    # Nothing added since: one query, the checkpoint.
    with django_assert_max_num_queries(1):
        found, _ = sequencer._receipts_of(waiting, set(), size + 1)
    assert found == []
