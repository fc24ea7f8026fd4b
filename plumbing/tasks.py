"""Where Celery tasks run: in a worker through the broker, or in the calling process.

Without CELERY_BROKER_URL (the embedded default) settings make every task eager: it runs
inside the call that queues it, and `delay_on_commit` runs it as soon as the transaction
commits (at once outside one). This module is the one place that question is asked; a
task itself asks `self.request.is_eager`.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def in_process() -> bool:
    """Whether queued tasks run in the calling process (no broker, no worker)."""
    return bool(current_app.conf.task_always_eager)


def ran_on_commit(using: str | None = None) -> bool:
    """Whether a task just queued with `delay_on_commit` has already run.

    True in-process outside a transaction: the caller may read the task's effect at once.
    """
    return in_process() and not transaction.get_connection(using).in_atomic_block
