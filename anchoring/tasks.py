"""Celery tasks of the ledger: the beat-driven sequencer, publisher, timestamper and chain
anchoring of production deployments."""

from celery import shared_task
from django.conf import settings

from anchoring import chain_anchors, keys, publisher, sequencer, timestamps


@shared_task(ignore_result=True)
def integrate() -> int:
    """Integrate pooled submissions until the pool holds less than one batch; then have
    the new checkpoint published (at once, not at the next beat tick)."""
    total = 0
    while True:
        added = sequencer.integrate()
        total += added
        if added < settings.LEDGER_BATCH_SIZE:
            break
    if total and keys.has_witnesses():
        publish.delay()
    return total


@shared_task(ignore_result=True)
def publish() -> int | None:
    """Publish the newest signed checkpoint once its witnesses' quorum cosigns it; its
    size, or None (nothing new, another publisher busy, or the quorum not met)."""
    row = publisher.publisher.publish()
    return row.tree_size if row else None


@shared_task(ignore_result=True)
def timestamp() -> int:
    """Have the TSAs of LEDGER_TSA_URLS timestamp the newest published checkpoint (those
    due: at most once per LEDGER_TIMESTAMP_PERIOD, failing ones after their backoff); how
    many tokens were stored."""
    return timestamps.timestamp_newest()


@shared_task(ignore_result=True)
def chain_anchor() -> int:
    """One round of chain anchoring: read the pending anchors' confirmations, anchor the
    newest published checkpoint when due (or again when a reorganisation dropped an
    anchor); how many transactions were sent."""
    return chain_anchors.anchor_newest()
