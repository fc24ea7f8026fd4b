"""Celery tasks of the ledger: the beat-driven sequencer of production deployments."""

from celery import shared_task
from django.conf import settings

from anchoring import sequencer


@shared_task(ignore_result=True)
def integrate() -> int:
    """Integrate pooled submissions until the pool holds less than one batch."""
    total = 0
    while True:
        added = sequencer.integrate()
        total += added
        if added < settings.LEDGER_BATCH_SIZE:
            return total
