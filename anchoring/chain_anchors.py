"""Chain anchors: every published checkpoint's root in a transaction on the EVM chain of
LEDGER_CHAIN_RPC_URL (anchoring/chain.py's byte form; issue 17 §2).

Each round reads the pending anchors again: one LEDGER_CHAIN_CONFIRMATIONS blocks deep
is confirmed and counts; one the chain no longer holds (a reorganisation dropped its
block, another transaction took its nonce) or that waits behind a nonce gap is marked
dropped, and the newest checkpoint is anchored again at once. Otherwise, with no anchor
in flight, the newest published checkpoint is anchored at most once per
LEDGER_CHAIN_ANCHOR_PERIOD. One transaction is in flight at a time, so the sender's
nonces never leave a gap of this loop's making. A node that fails is tried again after
LEDGER_CHAIN_RETRY seconds, doubling up to LEDGER_CHAIN_RETRY_MAX; its state (ChainState)
shows on /health and /alliance. Nothing here blocks integration or publication: it only
reads published checkpoints.

It runs like the timestamper: a thread beside the sequencer (embedded default, `manage.py
sequencer`) or the Celery task anchoring.tasks.chain_anchor on beat.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from anchoring import chain, locks, store
from anchoring.checkpoint import parse_checkpoint
from anchoring.models import ChainAnchor, ChainState, PublishedCheckpoint
from anchoring.note import parse_note

log = logging.getLogger(__name__)

_ADVISORY_LOCK_ID = 0x4A564C_45564D31  # names the lock that lets one anchoring loop run at once
State = ChainAnchor.State


def configured() -> bool:
    return bool(settings.LEDGER_CHAIN_RPC_URL)


def node() -> chain.Node:
    return chain.Node(settings.LEDGER_CHAIN_RPC_URL, settings.LEDGER_CHAIN_TIMEOUT)


def _key() -> str:
    try:
        return chain.read_key(Path(settings.LEDGER_CHAIN_KEY_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise chain.NodeUnavailable(f"LEDGER_CHAIN_KEY_FILE: {exc}") from None


def data_of(checkpoint: PublishedCheckpoint) -> bytes:
    """The transaction data anchoring a published checkpoint."""
    parsed = parse_checkpoint(parse_note(checkpoint.note).text)
    return chain.encode(parsed.origin, parsed.size, parsed.root_hash)


def anchor_newest() -> int:
    """One round: read the pending anchors, then anchor the newest published checkpoint
    when one is due; how many transactions were sent. Safe to run at once in several
    processes (one runs, the others return 0)."""
    if not configured():
        return 0
    with locks.held(_ADVISORY_LOCK_ID) as mine:
        if not mine:
            return 0
        state, _ = ChainState.objects.get_or_create(url=settings.LEDGER_CHAIN_RPC_URL)
        if state.retry_at is not None and state.retry_at > timezone.now():
            return 0
        try:
            sent = _round(node(), state)
        except chain.NodeUnavailable as exc:
            _failed(state, str(exc))
            return 0
        state.ok, state.failures, state.failing_since = True, 0, None
        state.last_error, state.retry_at, state.checked_at = "", None, timezone.now()
        state.chain_id = settings.LEDGER_CHAIN_ID
        state.save()
        return sent


def _round(rpc: chain.Node, state: ChainState) -> int:
    served = rpc.chain_id()
    if served != settings.LEDGER_CHAIN_ID:
        raise chain.NodeUnavailable(
            f"the node serves chain {served}, not LEDGER_CHAIN_ID {settings.LEDGER_CHAIN_ID}"
        )
    in_flight, dropped = track(rpc, state)
    if in_flight:
        return 0
    newest = store.latest_checkpoint()
    if newest is None or newest.tree_size == 0 or not (dropped or _due(newest)):
        return 0
    sent = rpc.send(_key(), settings.LEDGER_CHAIN_ID, data_of(newest), nonce=_nonce(rpc))
    # The same data, nonce and fees again make the same transaction: a dropped row revives.
    ChainAnchor.objects.update_or_create(
        transaction_hash=sent.transaction_hash,
        defaults={
            "checkpoint": newest,
            "chain_id": settings.LEDGER_CHAIN_ID,
            "sender": sent.sender,
            "nonce": sent.nonce,
            "sent_at": timezone.now(),
            "checked_at": timezone.now(),
            "state": State.PENDING,
            "reason": "",
        },
    )
    log.info("anchored checkpoint %d in %s", newest.tree_size, sent.transaction_hash)
    return 1


def _nonce(rpc: chain.Node) -> int:
    """The next nonce: after the account's mined transactions. With one anchor in flight
    at a time, anything the node still holds beyond them is not ours to wait for."""
    from eth_account import Account

    return rpc.nonce(Account.from_key(_key()).address, "latest")


def _due(newest: PublishedCheckpoint) -> bool:
    live = ChainAnchor.objects.filter(
        chain_id=settings.LEDGER_CHAIN_ID, state__in=[State.PENDING, State.CONFIRMED]
    ).aggregate(size=Max("checkpoint_id"), sent=Max("sent_at"))
    if live["size"] is not None and live["size"] >= newest.tree_size:
        return False
    period = timedelta(seconds=settings.LEDGER_CHAIN_ANCHOR_PERIOD)
    return live["sent"] is None or timezone.now() - live["sent"] >= period


def track(rpc: chain.Node, state: ChainState) -> tuple[bool, bool]:
    """Read every pending anchor from the node again; (whether one is still in flight,
    whether one was dropped)."""
    in_flight = dropped = False
    required = settings.LEDGER_CHAIN_CONFIRMATIONS
    pending = ChainAnchor.objects.filter(chain_id=settings.LEDGER_CHAIN_ID, state=State.PENDING)
    for anchor in pending.order_by("nonce"):
        tx = rpc.transaction(anchor.transaction_hash)
        anchor.checked_at = timezone.now()
        why = _dropped_why(rpc, anchor, tx)
        if why:
            anchor.state, anchor.reason = State.DROPPED, why
            anchor.block_number, anchor.block_hash, anchor.block_time = None, "", None
            anchor.confirmations = 0
            dropped = True
            log.warning(
                "chain anchor %s of checkpoint %d dropped: %s",
                anchor.transaction_hash,
                anchor.checkpoint_id,
                why,
            )
        elif tx is not None and tx.block_number is not None:
            anchor.block_number, anchor.block_hash = tx.block_number, tx.block_hash or ""
            anchor.block_time, anchor.confirmations = tx.block_time, tx.confirmations
            if tx.confirmations >= required:
                anchor.state = State.CONFIRMED
                if anchor.checkpoint_id >= state.anchored_size:
                    state.anchored_size = anchor.checkpoint_id
                    state.anchored_block, state.anchored_at = tx.block_number, tx.block_time
            else:
                in_flight = True
        else:
            anchor.block_number, anchor.block_hash, anchor.block_time = None, "", None
            anchor.confirmations = 0
            in_flight = True
        anchor.save()
    return in_flight, dropped


def _dropped_why(rpc: chain.Node, anchor: ChainAnchor, tx: chain.Transaction | None) -> str:
    if tx is None:
        return "the node no longer knows the transaction (a reorganisation, or its nonce was taken)"
    if tx.succeeded is False:
        return "the transaction failed"
    if tx.block_number is None and rpc.nonce(anchor.sender, "latest") < anchor.nonce:
        return "a nonce gap: an earlier nonce of the sender was never mined"
    return ""


def _backoff(failures: int) -> float:
    return min(settings.LEDGER_CHAIN_RETRY_MAX, settings.LEDGER_CHAIN_RETRY * 2 ** (failures - 1))


def _failed(state: ChainState, error: str) -> None:
    now = timezone.now()
    if state.ok or state.failing_since is None:
        state.failing_since = now
    state.ok, state.last_error, state.checked_at = False, error[:1000], now
    state.failures += 1
    state.retry_at = now + timedelta(seconds=_backoff(state.failures))
    state.save()
    log.warning("chain anchors: %s (%d in a row)", error, state.failures)


def confirmed(size: int) -> list[ChainAnchor]:
    """The confirmed anchors of the published checkpoint of `size`, earliest block first."""
    return list(
        ChainAnchor.objects.filter(checkpoint_id=size, state=State.CONFIRMED).order_by(
            "block_number", "id"
        )
    )


def earliest_covering(index: int) -> int | None:
    """The smallest published size above `index` with a confirmed anchor; None if none."""
    return (
        ChainAnchor.objects.filter(checkpoint_id__gt=index, state=State.CONFIRMED)
        .order_by("checkpoint_id")
        .values_list("checkpoint_id", flat=True)
        .first()
    )


def run(stop: threading.Event | None = None) -> None:
    """Anchor forever, a round every LEDGER_CHAIN_POLL seconds."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            anchor_newest()
        except Exception:
            log.exception("chain anchoring failed; retrying")
            connection.close()
        stop.wait(settings.LEDGER_CHAIN_POLL)
    connection.close()


_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def start_thread() -> None:
    """Start this process's anchoring thread, once, when a chain is configured."""
    global _thread
    if not configured():
        return
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=run, name="ledger-chain-anchors", daemon=True)
            _thread.start()
