"""How the portal's Celery tasks are queued and where they run.

Where: in a worker through the broker, or, without CELERY_BROKER_URL (the embedded
default), in the calling process: settings make every task eager, and `delay_on_commit`
runs it as soon as the transaction commits (at once outside one). This module is the one
place that question is asked; a task itself asks `self.request.is_eager`.

How: every task is a `Task` (portal/celery.py makes it the app's task class). A row and
the intent to run its job are committed together: the job is sent only once the row is
committed, and a broker that cannot be reached then is logged and counted, not raised
into the request that made the row. The row stays pending, and the periodic sweeper of
its app (verification.tasks.sweep) sends its job again.
"""

from __future__ import annotations

import functools
import logging

from celery import current_app
from celery.contrib.django.task import DjangoTask
from django.db import transaction
from kombu.exceptions import OperationalError
from prometheus_client import Counter

log = logging.getLogger(__name__)

# What the broker's client raises when it cannot send (kombu wraps redis-py's and amqp's
# connection errors in OperationalError; a socket error, an OSError, may come through raw).
BROKER_ERRORS = (OperationalError, OSError)

unsent = Counter(
    "portal_tasks_unsent_total",
    "Jobs whose row was committed but the broker could not be reached to queue them; "
    "the sweeper queues them again",
    ["task"],
)


def in_process() -> bool:
    """Whether queued tasks run in the calling process (no broker, no worker)."""
    return bool(current_app.conf.task_always_eager)


def ran_on_commit(using: str | None = None) -> bool:
    """Whether a task just queued with `delay_on_commit` has already run.

    True in-process outside a transaction: the caller may read the task's effect at once.
    """
    return in_process() and not transaction.get_connection(using).in_atomic_block


class Task(DjangoTask):
    """A task that is sent only once the caller's transaction has committed, and whose
    sending never fails the caller: the sweeper of its app sends it again."""

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(functools.partial(self.send, *args, **kwargs))

    def send(self, *args, **kwargs) -> bool:
        """Queue the task now; False (logged and counted) if the broker cannot be reached."""
        try:
            self.delay(*args, **kwargs)
        except BROKER_ERRORS as exc:
            if self.app.conf.task_always_eager:
                raise  # in-process, the error is the task's own: never swallow it
            unsent.labels(self.name).inc()
            log.warning("%s%s not queued, the broker is unreachable: %s", self.name, args, exc)
            return False
        return True
