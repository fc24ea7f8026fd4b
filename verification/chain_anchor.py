"""The chain-anchor step: "anchored in block B of chain C at T", read back from an EVM node.

The covering checkpoint (size S > the entry's index, the first with a confirmed anchor)
is proven as for trusted time: its root by the consistency proof from S to the
checkpoint the verification uses, the entry's inclusion at S. Then each anchor's
transaction is read from a node (the portal's LEDGER_CHAIN_RPC_URL, or the one given to
`judicial-verify --rpc`): its data must be S's byte form (anchoring/chain.py) and its
block at least `confirmations` deep. The earliest such block is the answer.

Outcomes, as for trusted time (an addition to the proof, not part of it): no anchor yet,
no node, a node unreachable or serving another chain, or no anchor found on the chain
with enough confirmations: INCONCLUSIVE ("could not check"), never shown as checked. A
transaction whose data is not the checkpoint's, or proofs that do not hold: FAILED.

Plain Python (no Django): the verification job and `judicial-verify` both use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from anchoring import chain
from anchoring.checkpoint import Checkpoint
from verification.steps import FAILED, INCONCLUSIVE, PASSED, Step
from verification.trusted_time import Covering, TimeFailed, covering_checkpoint, shown

NAME = "chain_anchor"


@dataclass(frozen=True)
class Evidence:
    """What a ledger gives for a chain anchor: the covering checkpoint's note (size S), the
    entry's inclusion proof at S, the consistency proof from S to the checkpoint used, and
    S's anchors as (chain id, transaction hash) pairs."""

    note: str
    inclusion: Sequence[bytes]
    consistency: Sequence[bytes]
    anchors: Sequence[tuple[int, str]]


class AnchorFailed(Exception):
    """Anchor evidence that is present and wrong; the message says what."""


def prove(
    index: int,
    data: bytes,
    cp: Checkpoint,
    evidence: Evidence,
    node: chain.Node,
    confirmations: int,
    chain_id: int | None = None,
) -> chain.Transaction | None:
    """The earliest anchor of the covering checkpoint found on `node`'s chain at least
    `confirmations` deep; None when none is; AnchorFailed when evidence is wrong;
    chain.NodeUnavailable when the node cannot be asked (or serves another chain than
    `chain_id`)."""
    try:
        covering = covering_checkpoint(
            evidence.note,
            index,
            data,
            cp,
            Covering(evidence.note, evidence.inclusion, evidence.consistency, ()),
        )
    except TimeFailed as exc:
        raise AnchorFailed(str(exc).replace("covering checkpoint", "anchored checkpoint")) from None
    served = node.chain_id()
    if chain_id is not None and served != chain_id:
        raise chain.NodeUnavailable(f"the node serves chain {served}, not chain {chain_id}")
    return on_chain(covering, evidence.anchors, node, served, confirmations)


def on_chain(
    covering: Checkpoint,
    anchors: Sequence[tuple[int, str]],
    node: chain.Node,
    served: int,
    confirmations: int,
) -> chain.Transaction | None:
    """The earliest of `anchors` (chain id, transaction hash) found on `node`, which serves
    chain `served`, holding `covering`'s root at least `confirmations` deep; None when none
    is; AnchorFailed when a transaction holds another root."""
    found = []
    for anchor_chain, transaction_hash in anchors:
        if anchor_chain != served:
            continue  # another chain: this node cannot tell
        tx = node.transaction(transaction_hash)
        if tx is None or tx.block_number is None or tx.succeeded is False:
            continue  # not on the chain (now): it proves nothing
        try:
            anchored = chain.decode(tx.data)
        except chain.FormError as exc:
            raise AnchorFailed(f"transaction {transaction_hash} holds no anchor ({exc})") from None
        if not anchored.covers(covering.origin, covering.size, covering.root_hash):
            raise AnchorFailed(
                f"transaction {transaction_hash} does not hold the root of checkpoint "
                f"{covering.size}"
            )
        if tx.confirmations >= confirmations:
            found.append(tx)
    return min(found, key=lambda t: t.block_number or 0) if found else None


def step(
    index: int,
    data: bytes,
    cp: Checkpoint,
    evidence: Evidence | None,
    node: chain.Node | None,
    confirmations: int,
    chain_id: int | None = None,
    development: bool = False,
) -> Step:
    """The `chain_anchor` step."""
    if evidence is None:
        return Step(
            NAME,
            INCONCLUSIVE,
            "区块链锚定待定：覆盖本记录的检查点尚未在区块链上锚定并得到足够确认，稍后核验即可取得。",
            "Chain anchor pending: no checkpoint covering this record is anchored on the "
            "chain with enough confirmations yet. Verify again later.",
        )
    if node is None:
        return _unchecked("未配置区块链节点", "no chain node is configured")
    try:
        tx = prove(index, data, cp, evidence, node, confirmations, chain_id)
    except AnchorFailed as exc:
        return Step(
            NAME,
            FAILED,
            "区块链锚定未通过核验：链上交易或账本提供的证明与检查点不符，不能作为锚定证据。",
            f"Chain anchor failed: {exc}; it is no evidence of anchoring.",
        )
    except chain.NodeUnavailable as exc:
        return _unchecked("区块链节点无法访问或不属于该链", f"the chain node failed ({exc})")
    if tx is None:
        return Step(
            NAME,
            INCONCLUSIVE,
            f"区块链锚定未能核验：节点上找不到确认数达到 {confirmations} 的锚定交易"
            "（可能被链重组撤销，或尚未确认）。",
            "Chain anchor not checked: the node holds no anchor transaction with "
            f"{confirmations} confirmations (reorganised away, or not yet confirmed).",
            {"confirmations_required": confirmations},
        )
    when = shown(tx.block_time) if tx.block_time else "?"
    dev_zh = "（开发用本地测试链，并非公共链）" if development else ""
    dev_en = " (DEVELOPMENT: a local test chain)" if development else ""
    size = int(evidence.note.split("\n")[1])
    return Step(
        NAME,
        PASSED,
        f"已锚定在链 {tx.chain_id}{dev_zh} 的第 {tx.block_number} 号区块，时间 {when}"
        f"（交易 {tx.transaction_hash}，确认数 {tx.confirmations}；锚定第 {size} 个检查点，"
        "与本次使用的检查点属同一历史）。",
        f"Anchored in block {tx.block_number} of chain {tx.chain_id}{dev_en} at {when} "
        f"(transaction {tx.transaction_hash}, {tx.confirmations} confirmations; the anchor "
        f"holds checkpoint {size}, proven to be in the same history as the checkpoint used).",
        {
            "chain_id": tx.chain_id,
            "block_number": tx.block_number,
            "block_hash": tx.block_hash,
            "block_time": tx.block_time.isoformat().replace("+00:00", "Z")
            if tx.block_time
            else None,
            "transaction_hash": tx.transaction_hash,
            "confirmations": tx.confirmations,
            "size": size,
            "development": development,
        },
    )


def _unchecked(why_zh: str, why_en: str) -> Step:
    return Step(
        NAME,
        INCONCLUSIVE,
        f"区块链锚定未能核验：{why_zh}，无法读取链上交易。",
        f"Chain anchor could not be checked: {why_en}, so the transaction cannot be read.",
    )
