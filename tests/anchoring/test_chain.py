"""Chain anchors against a real EVM node (`anvil`, tests/chain.py): the byte form, anchors
sent, confirmed and read back, a reorganisation that drops one (sent again), a nonce gap,
and a node down then back."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from anchoring import chain, chain_anchors, store
from anchoring.models import ChainAnchor, ChainState
from tests.anchoring.ledger import grow_ledger
from tests.chain import CHAIN_ID, KEY

State = ChainAnchor.State


def test_the_byte_form_is_version_origin_hash_size_root():
    root = bytes(range(32))
    data = chain.encode("court.example/ledger", 258, root)
    assert len(data) == chain.LENGTH == 73
    assert data[0] == 1
    assert data[1:33] == hashlib.sha256(b"court.example/ledger").digest()
    assert data[33:41] == (258).to_bytes(8, "big")
    assert data[41:] == root
    anchored = chain.decode(data)
    assert anchored.covers("court.example/ledger", 258, root)
    assert not anchored.covers("court.example/ledger", 257, root)
    assert not anchored.covers("other.example/ledger", 258, root)
    for bad in (data[:-1], data + b"\x00", b"\x02" + data[1:], b""):
        with pytest.raises(chain.FormError):
            chain.decode(bad)


def _round(anvil) -> int:
    sent = chain_anchors.anchor_newest()
    anvil.settle()
    return sent


pytestmark = pytest.mark.django_db


def test_an_anchor_is_sent_confirmed_and_read_back(chain_configured):
    anvil = chain_configured
    grow_ledger(5)
    newest = store.latest_checkpoint()
    assert _round(anvil) == 1
    anchor = ChainAnchor.objects.get()
    assert (anchor.checkpoint_id, anchor.state, anchor.chain_id) == (5, State.PENDING, CHAIN_ID)
    assert _round(anvil) == 0  # in flight: one block deep, 3 needed
    anchor.refresh_from_db()
    assert anchor.state == State.PENDING and anchor.confirmations == 1
    assert chain_anchors.confirmed(5) == []
    anvil.mine(2)
    assert _round(anvil) == 0
    anchor.refresh_from_db()
    assert anchor.state == State.CONFIRMED and anchor.confirmations == 3
    assert anchor.block_hash.startswith("0x") and len(anchor.block_hash) == 66
    assert abs(anchor.block_time - timezone.now()) < timedelta(minutes=1)
    # read back: the transaction's data is the checkpoint's byte form
    tx = chain.Node(anvil.url, 5).transaction(anchor.transaction_hash)
    assert tx is not None and tx.block_number == anchor.block_number
    assert tx.data == chain_anchors.data_of(newest)
    assert chain.decode(tx.data).covers(store.settings.LEDGER_ORIGIN, 5, bytes(newest.root_hash))
    state = ChainState.objects.get()
    assert (state.ok, state.anchored_size, state.anchored_block) == (True, 5, anchor.block_number)
    assert chain_anchors.earliest_covering(4) == 5 and chain_anchors.earliest_covering(5) is None
    assert _round(anvil) == 0  # nothing new


def test_at_most_one_anchor_per_period_always_the_newest(chain_configured, settings):
    anvil = chain_configured
    settings.LEDGER_CHAIN_CONFIRMATIONS = 1
    settings.LEDGER_CHAIN_ANCHOR_PERIOD = 3600.0
    grow_ledger(2)
    assert _round(anvil) == 1
    grow_ledger(2, start=2)
    assert _round(anvil) == 0  # confirmed, but within the period
    settings.LEDGER_CHAIN_ANCHOR_PERIOD = 0.0
    grow_ledger(2, start=4)
    assert _round(anvil) == 1
    assert _round(anvil) == 0
    sizes = set(ChainAnchor.objects.values_list("checkpoint_id", flat=True))
    assert sizes == {2, 6}  # 4 was skipped, the newest taken
    assert set(ChainAnchor.objects.values_list("state", flat=True)) == {State.CONFIRMED}


def test_an_anchor_a_reorganisation_drops_is_sent_again(chain_configured):
    anvil = chain_configured
    grow_ledger(3)
    assert _round(anvil) == 1
    first = ChainAnchor.objects.get()
    anvil.mine(1)
    assert _round(anvil) == 0
    first.refresh_from_db()
    assert first.state == State.PENDING and first.confirmations == 2
    anvil.rpc("anvil_reorg", 3, [])  # the last 3 blocks replaced: the anchor's block is gone
    assert _round(anvil) == 1  # dropped, and the same (newest) checkpoint anchored again
    first.refresh_from_db()
    assert first.state == State.DROPPED and "no longer knows" in first.reason
    again = ChainAnchor.objects.exclude(pk=first.pk).get()
    assert again.checkpoint_id == 3 and again.transaction_hash != first.transaction_hash
    anvil.mine(2)
    _round(anvil)
    again.refresh_from_db()
    assert again.state == State.CONFIRMED
    assert chain_anchors.confirmed(3) == [again]


def test_a_snapshot_reverted_under_a_pending_anchor_drops_it(chain_configured):
    anvil = chain_configured
    grow_ledger(2)
    snapshot = anvil.rpc("evm_snapshot")
    assert _round(anvil) == 1
    anvil.rpc("evm_revert", snapshot)
    assert _round(anvil) == 1  # sent again (the very same transaction, if nothing changed)
    pending = ChainAnchor.objects.get(state=State.PENDING)
    assert chain.Node(anvil.url, 5).transaction(pending.transaction_hash).block_number


def test_a_nonce_gap_is_filled_by_sending_again(chain_configured):
    anvil = chain_configured
    grow_ledger(2)
    node = chain.Node(anvil.url, 5)
    sender = chain_anchors._nonce(node)
    # An anchor waiting behind a nonce nobody sent: it can never be mined.
    stuck = node.send(
        "0x" + KEY, CHAIN_ID, chain_anchors.data_of(store.latest_checkpoint()), nonce=sender + 1
    )
    ChainAnchor.objects.create(
        checkpoint=store.latest_checkpoint(),
        chain_id=CHAIN_ID,
        transaction_hash=stuck.transaction_hash,
        sender=stuck.sender,
        nonce=stuck.nonce,
        sent_at=timezone.now(),
    )
    assert _round(anvil) == 1
    gap = ChainAnchor.objects.get(transaction_hash=stuck.transaction_hash)
    assert gap.state == State.DROPPED and "nonce gap" in gap.reason
    fresh = ChainAnchor.objects.exclude(pk=gap.pk).get()
    assert fresh.nonce == sender
    anvil.mine(3)
    _round(anvil)
    fresh.refresh_from_db()
    assert fresh.state == State.CONFIRMED


def test_a_node_down_is_retried_with_backoff_and_anchors_once_back(chain_configured, settings):
    from portal import health

    anvil = chain_configured
    settings.LEDGER_CHAIN_RETRY = 30.0
    grow_ledger(3)
    anvil.stop()
    try:
        assert chain_anchors.anchor_newest() == 0
        state = ChainState.objects.get()
        assert not state.ok and state.failures == 1 and "eth_chainId" in state.last_error
        assert state.retry_at - state.checked_at == timedelta(seconds=30)
        part = health.chain()
        assert part["ok"] and part["configured"] and part["degraded"]
        assert part["error"] and part["failing_since"]
        assert chain_anchors.anchor_newest() == 0  # within the backoff: not even tried
    finally:
        anvil.start()
    ChainState.objects.update(retry_at=None)
    assert _round(anvil) == 1
    state = ChainState.objects.get()
    assert state.ok and state.failures == 0 and state.failing_since is None
    assert not health.chain()["degraded"]


def test_a_node_of_another_chain_is_refused(chain_configured, settings):
    settings.LEDGER_CHAIN_ID = 1
    grow_ledger(1)
    assert chain_anchors.anchor_newest() == 0
    assert "not LEDGER_CHAIN_ID 1" in ChainState.objects.get().last_error
    assert not ChainAnchor.objects.exists()


def test_without_a_node_configured_nothing_runs(settings):
    settings.LEDGER_CHAIN_RPC_URL = ""
    grow_ledger(1)
    assert chain_anchors.anchor_newest() == 0
    assert not ChainState.objects.exists()


def test_the_alliance_page_lists_the_chain_with_its_last_anchored_size(chain_configured, client):
    anvil = chain_configured
    grow_ledger(4)
    _round(anvil)
    anvil.mine(3)
    _round(anvil)
    page = client.get("/alliance").content.decode()
    assert f'data-chain="{CHAIN_ID}"' in page and "4 条" in page and "正常" in page


def test_the_alliance_page_says_when_chain_anchors_are_off(settings, client):
    settings.LEDGER_CHAIN_RPC_URL = ""
    grow_ledger(1)
    page = client.get("/alliance", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "checkpoints are not anchored on a chain" in page


def test_the_api_serves_confirmed_anchors_only(chain_configured, client):
    anvil = chain_configured
    grow_ledger(2)
    _round(anvil)
    assert client.get("/api/v1/ledger/anchors?size=2").json() == {"size": 2, "anchors": []}
    anvil.mine(3)
    _round(anvil)
    anchor = ChainAnchor.objects.get()
    body = client.get("/api/v1/ledger/anchors?size=2").json()
    assert body["size"] == 2 and len(body["anchors"]) == 1
    served = body["anchors"][0]
    assert served["chain_id"] == CHAIN_ID
    assert served["transaction_hash"] == anchor.transaction_hash
    assert served["block_number"] == anchor.block_number
    assert served["block_hash"] == anchor.block_hash and served["confirmations"] >= 3
    assert client.get("/api/v1/ledger/anchors?covering=0").json()["size"] == 2
    assert client.get("/api/v1/ledger/anchors?covering=2").json() == {"size": None, "anchors": []}
    assert client.get("/api/v1/ledger/anchors?size=7").status_code == 404
    assert client.get("/api/v1/ledger/anchors").status_code == 400


def test_the_documented_example_is_the_byte_form():
    from tests.processes import ROOT

    doc = (ROOT / "docs/formats.md").read_text()
    data = chain.encode("court.example/ledger", 258, bytes(range(32)))
    for part in (data[:1], data[1:33], data[33:41], data[41:]):
        assert part.hex() in doc
