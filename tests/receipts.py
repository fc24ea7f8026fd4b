"""Checking a ledger block of an API answer: the signed checkpoint and the inclusion proof."""

from anchoring import keys, merkle
from anchoring.checkpoint import open_checkpoint


def verify_ledger(ledger: dict):
    """Open the answer's checkpoint with the log's key and verify its inclusion proof;
    the checkpoint. Raises if either fails."""
    checkpoint = open_checkpoint(ledger["checkpoint"], keys.verifier())
    merkle.verify_inclusion(
        bytes.fromhex(ledger["leaf_hash"]),
        ledger["index"],
        checkpoint.size,
        [bytes.fromhex(h) for h in ledger["inclusion_proof"]],
        checkpoint.root_hash,
    )
    return checkpoint
