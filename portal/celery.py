"""The Celery app. Without CELERY_BROKER_URL, tasks run eagerly in the calling process."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# Every task is sent after its row is committed and never fails the request (plumbing/tasks.py).
app = Celery("portal", task_cls="plumbing.tasks:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _tidy_connections(sender=None, **kwargs) -> None:
    """Treat each task as Django treats a request: drop an unusable or expired connection.

    CELERY_DB_REUSE_MAX stops Celery's fixup from closing the connection around every
    task; this keeps Django's own rules (CONN_MAX_AGE, CONN_HEALTH_CHECKS, the pool) so a
    broken connection is not reused. Eager tasks run inside a request and are left alone.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
