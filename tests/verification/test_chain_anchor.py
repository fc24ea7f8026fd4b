"""The `chain_anchor` step of a verification against a real EVM node (anvil): anchored in
block B of chain C at T; pending before; "could not check" without a node or with one
down; refused when the transaction does not hold the checkpoint's root."""

from __future__ import annotations

import pytest
from django.utils import timezone

from anchoring import chain, chain_anchors, store
from anchoring.models import ChainAnchor
from tests import judicial_verify
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


# --- Proof bundles, certificates and judicial-verify --rpc -------------------------------


@pytest.fixture
def anchored(ledger, chain_configured, tmp_path):
    """A certificate whose verification read its anchor back, and the trust policy."""
    import io

    from django.core.management import call_command

    from verification import certificate

    anchor = _anchor_and_confirm(chain_configured)
    v = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    assert _step(v).status == "passed"
    issued = certificate.issue(v)
    out = io.StringIO()
    call_command("trust_policy", stdout=out)
    policy = tmp_path / "policy.txt"
    policy.write_text(out.getvalue())
    return issued, policy, anchor, chain_configured.url


def test_the_bundle_carries_the_anchor_as_the_ledger_recorded_it(anchored):
    import json

    issued, _, anchor, _ = anchored
    evidence = json.loads(issued.bundle)["chain_anchors"]
    assert evidence["checkpoint"].split("\n")[1] == str(anchor.checkpoint_id)
    (only,) = evidence["anchors"]
    assert only["chain_id"] == CHAIN_ID and only["transaction_hash"] == anchor.transaction_hash
    assert only["block_number"] == anchor.block_number and only["block_hash"] == anchor.block_hash


def test_without_rpc_the_anchor_is_listed_not_checked_and_the_rest_verified(anchored, tmp_path):
    import json

    issued, policy, _, url = anchored
    code, out = judicial_verify.bundle(json.loads(issued.bundle), policy, tmp_path)
    assert code == 0, out
    assert "its anchors are not checked (no --rpc given)" in out
    assert "give one with --rpc URL" in out  # the label of the listed anchor fields
    assert "ok  chain anchor" not in out and out.rstrip().endswith("VERIFIED")


def test_with_rpc_judicial_verify_reads_the_anchor_from_the_node(anchored, tmp_path):
    import json

    issued, policy, anchor, url = anchored
    bundle = json.loads(issued.bundle)
    code, out = judicial_verify.bundle(
        bundle, policy, tmp_path, "--rpc", url, "--confirmations", "3"
    )
    assert code == 0, out
    assert (
        f"ok  chain anchor: checkpoint {anchor.checkpoint_id} is anchored in block "
        f"{anchor.block_number} of chain {CHAIN_ID} at "
    ) in out
    # Deeper than the chain is: the anchor is not found, so not checked, never failed.
    code, out = judicial_verify.bundle(
        bundle, policy, tmp_path, "--rpc", url, "--confirmations", "1000"
    )
    assert code == 0 and "chain anchor: could not check (no anchor on chain" in out, out
    assert "ok  chain anchor" not in out


@pytest.mark.parametrize("edit", ["transaction", "checkpoint", "inclusion"])
def test_an_altered_anchor_fails_at_the_chain_anchor_step(anchored, tmp_path, edit):
    """Another transaction (another root), an edited anchored checkpoint, a broken proof."""
    import json

    issued, policy, _, url = anchored
    bundle = json.loads(issued.bundle)
    evidence = bundle["chain_anchors"]
    if edit == "transaction":
        node = chain.Node(url, 5)
        newest = store.latest_checkpoint()
        other = chain.encode(store.settings.LEDGER_ORIGIN, newest.tree_size, bytes(32))
        evidence["anchors"][0]["transaction_hash"] = node.send(
            "0x" + KEY, CHAIN_ID, other
        ).transaction_hash
    elif edit == "checkpoint":
        evidence["checkpoint"] = evidence["checkpoint"].replace("\n", "\n\n", 1)
    else:
        evidence["inclusion"] = (
            [*evidence["inclusion"], evidence["inclusion"][0]]
            if evidence["inclusion"]
            else ["AAAA"]
        )
    code, out = judicial_verify.bundle(
        bundle, policy, tmp_path, "--rpc", url, "--confirmations", "1"
    )
    assert code == 1, out
    assert "FAILED at chain anchor" in out, out


def test_a_node_that_cannot_be_asked_could_not_check(anchored, tmp_path):
    import json

    from tests.processes import free_port

    issued, policy, _, url = anchored
    down = f"http://127.0.0.1:{free_port()}"
    code, out = judicial_verify.bundle(json.loads(issued.bundle), policy, tmp_path, "--rpc", down)
    assert code == 0, out
    assert "chain anchor: could not check" in out and "ok  chain anchor" not in out
    code, out = judicial_verify.bundle(
        json.loads(issued.bundle), policy, tmp_path, "--rpc", "file:///etc/passwd"
    )
    assert code == 2 and "JSON-RPC URL" in out


def test_the_certificate_shows_the_anchor_and_the_command_checks_it(anchored, tmp_path):
    """pdftotext reads the anchor box; the installed judicial-verify checks the PDF with
    and without --rpc in a process of its own."""
    issued, policy, anchor, url = anchored
    pdf, flat = judicial_verify.saved_pdf(issued, tmp_path)
    assert f"Anchored in block {anchor.block_number} of chain {CHAIN_ID} at" in flat
    assert f"已锚定在链 {CHAIN_ID} 的第 {anchor.block_number} 号区块" in flat
    plain = judicial_verify.certificate(pdf, policy)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "not checked (no --rpc given)" in plain.stdout
    checked = judicial_verify.certificate(pdf, policy, "--rpc", url, "--confirmations", "3")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"is anchored in block {anchor.block_number} of chain {CHAIN_ID}" in checked.stdout


def test_a_certificate_whose_anchor_was_altered_fails_at_its_signature(anchored, tmp_path):
    """The bundle inside a signed certificate cannot be swapped for one with another anchor:
    the PDF signature no longer covers the whole file."""
    import contextlib
    import io
    import json

    from verification import bundle as bundles
    from verification import offline, pades

    issued, policy, _, url = anchored
    with issued.pdf.open("rb") as f:
        pdf = f.read()
    bundle = json.loads(pades.embedded_file(pdf, bundles.ATTACHMENT_NAME))
    bundle["chain_anchors"]["anchors"][0]["transaction_hash"] = "0x" + "ab" * 32
    forged = pades.attach(
        pdf, bundles.ATTACHMENT_NAME, bundles.dumps(bundle), "proof bundle", "application/json"
    )
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = offline.main(["certificate", str(path), "--policy", str(policy), "--rpc", url])
    assert code == 1, out.getvalue()
    assert "FAILED at PDF signature: content was added to the PDF after it was signed" in (
        out.getvalue()
    )
