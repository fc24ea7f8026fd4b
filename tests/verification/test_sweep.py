"""The sweeper queues again exactly the unfinished verifications whose job is overdue.

The broker is replaced by a recorder here (a unit test of one function);
tests/integration/test_orphaned_jobs.py runs the sweeper against a real broker and worker.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from verification import tasks
from verification.models import Verification

pytestmark = pytest.mark.django_db


def _made(status: str, age: float, queued_age: float | None = None) -> Verification:
    v = Verification.objects.create(source="digest", sha256="00" * 32, status=status)
    now = timezone.now()
    queued = now - timedelta(seconds=queued_age) if queued_age is not None else None
    Verification.objects.filter(pk=v.pk).update(
        created_at=now - timedelta(seconds=age), queued_at=queued
    )
    return v


@pytest.fixture
def sent(monkeypatch):
    ids: list[str] = []
    monkeypatch.setattr(tasks.verify, "send", lambda pk: ids.append(pk) or True)
    return ids


def test_overdue_unfinished_jobs_are_queued_again_once(settings, sent):
    settings.VERIFY_REQUEUE_AFTER = 60
    overdue = [_made("pending", 120), _made("running", 300), _made("pending", 600, 90)]
    fresh = [_made("pending", 10), _made("pending", 600, 30), _made("done", 600)]
    assert tasks.sweep() == 3
    assert sorted(sent) == sorted(v.pk for v in overdue)
    assert all(v.queued_at for v in Verification.objects.filter(pk__in=sent))
    assert not set(sent) & {v.pk for v in fresh}
    assert tasks.sweep() == 0  # just queued: not overdue again yet


def test_a_sweep_stops_at_the_first_job_the_broker_refuses(settings, monkeypatch):
    settings.VERIFY_REQUEUE_AFTER = 0
    for _ in range(3):
        _made("pending", 10)
    calls = []
    monkeypatch.setattr(tasks.verify, "send", lambda pk: calls.append(pk) and False)
    assert tasks.sweep() == 0
    assert len(calls) == 1


def test_at_most_the_configured_number_a_run(settings, sent):
    settings.VERIFY_REQUEUE_AFTER, settings.VERIFY_SWEEP_MAX = 0, 2
    for _ in range(5):
        _made("pending", 10)
    assert tasks.sweep() == 2 and len(sent) == 2
