"""The `chain_anchor` step of a verification against a real EVM node (anvil): anchored in
block B of chain C at T; pending before; "could not check" without a node or with one
down; refused when the transaction does not hold the checkpoint's root."""

from __future__ import annotations

import pytest
from django.utils import timezone

from anchoring import chain, chain_anchors, store
from anchoring.models import ChainAnchor
from tests.chain import CHAIN_ID, KEY
from tests.court_ledger import check, sha
from verification.models import Verification

V = Verification.Outcome


def _step(v: Verification):
    return v.steps.filter(name="chain_anchor").first()


def _anchor_and_confirm(anvil) -> ChainAnchor:
    assert chain_anchors.anchor_newest() == 1
    anvil.settle()
    anvil.mine(3)
    chain_anchors.anchor_newest()
    return ChainAnchor.objects.get(state=ChainAnchor.State.CONFIRMED)


def test_no_step_without_a_chain(ledger, settings):
    settings.LEDGER_CHAIN_RPC_URL = ""
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED and _step(v) is None


def test_before_an_anchor_is_confirmed_it_is_pending(ledger, chain_configured):
    chain_anchors.anchor_newest()  # sent, one block deep: not confirmed
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED
    step = _step(v)
    assert step.status == "inconclusive" and "pending" in step.explanation_en


def test_a_confirmed_anchor_is_read_back_from_the_node(ledger, chain_configured):
    anchor = _anchor_and_confirm(chain_configured)
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED
    step = _step(v)
    assert step.status == "passed", step.explanation_en
    assert step.detail["transaction_hash"] == anchor.transaction_hash
    assert step.detail["block_number"] == anchor.block_number
    assert step.detail["chain_id"] == CHAIN_ID and step.detail["confirmations"] >= 3
    assert step.explanation_en.startswith(
        f"Anchored in block {anchor.block_number} of chain {CHAIN_ID} at "
    )
    assert step.explanation_zh.startswith(
        f"已锚定在链 {CHAIN_ID} 的第 {anchor.block_number} 号区块"
    )


def test_an_earlier_anchored_checkpoint_is_proven_in_the_same_history(ledger, chain_configured):
    from tests.anchoring.ledger import grow_ledger

    anchor = _anchor_and_confirm(chain_configured)
    grow_ledger(3, start=100)
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.tree_size > anchor.checkpoint_id
    step = _step(v)
    assert step.status == "passed" and step.detail["size"] == anchor.checkpoint_id


def test_a_node_down_or_none_could_not_check_and_never_verified(ledger, chain_configured, settings):
    anvil = chain_configured
    _anchor_and_confirm(anvil)
    anvil.stop()
    try:
        v = check(sha256=sha(ledger.judgment_pdf))
    finally:
        anvil.start()
    step = _step(v)
    assert step.status == "inconclusive" and "could not be checked" in step.explanation_en
    assert v.outcome == V.VERIFIED  # the document is proven; the anchor is not shown checked
    settings.LEDGER_CHAIN_RPC_URL = ""
    v = check(sha256=sha(ledger.judgment_pdf))
    step = _step(v)
    assert step.status == "inconclusive" and "no chain node is configured" in step.explanation_en


def test_a_transaction_whose_data_is_not_the_root_is_refused(ledger, chain_configured):
    anvil = chain_configured
    newest = store.latest_checkpoint()
    node = chain.Node(anvil.url, 5)
    other = chain.encode(store.settings.LEDGER_ORIGIN, newest.tree_size, bytes(32))
    sent = node.send("0x" + KEY, CHAIN_ID, other)
    anvil.settle()
    anvil.mine(3)
    tx = node.transaction(sent.transaction_hash)
    ChainAnchor.objects.create(
        checkpoint=newest,
        chain_id=CHAIN_ID,
        transaction_hash=sent.transaction_hash,
        sender=sent.sender,
        nonce=sent.nonce,
        sent_at=timezone.now(),
        state=ChainAnchor.State.CONFIRMED,
        block_number=tx.block_number,
        block_hash=tx.block_hash,
        block_time=tx.block_time,
        confirmations=tx.confirmations,
    )
    v = check(sha256=sha(ledger.judgment_pdf))
    step = _step(v)
    assert step.status == "failed", step.explanation_en
    assert "does not hold the root" in step.explanation_en
    assert v.outcome == V.INCONCLUSIVE


@pytest.mark.parametrize("backend", ["http"])
def test_the_http_backend_gives_the_same_anchor(
    ledger, chain_configured, settings, live_server, backend
):
    from anchoring import keys

    _anchor_and_confirm(chain_configured)
    settings.LEDGER_BACKEND = backend
    settings.LEDGER_BACKEND_URL = live_server.url
    settings.LEDGER_VERIFIER_KEY = keys.vkey()
    v = check(sha256=sha(ledger.judgment_pdf))
    assert _step(v).status == "passed"
