"""The verification job: takes a primary key, is safe to run twice, retries backend errors."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from anchoring.backend import BackendUnavailable, get_backend
from plumbing import bulk
from verification import certificate, flow, fsck, metrics
from verification.models import Verification, VerificationStep
from verification.steps import Step, unavailable_step

log = logging.getLogger(__name__)


def _save(v: Verification, outcome: str, steps: list[Step], record) -> None:
    """Store the outcome and steps; a row checked in the request is inserted here, done.

    The step rows stay on the instance (`checked_steps`) for the answer to use.
    """
    v.outcome, v.record = outcome, record
    v.status = Verification.Status.DONE
    v.finished_at = timezone.now()
    metrics.verification_finished(outcome, v.started_at, v.finished_at, inline=v._state.adding)
    rows = [
        VerificationStep(
            verification=v,
            position=i,
            name=s.name,
            status=s.status,
            explanation_zh=s.zh,
            explanation_en=s.en,
            detail=s.detail,
        )
        for i, s in enumerate(steps)
    ]
    if v._state.adding:  # checked in the request: the row and its steps in one statement
        bulk.insert_with_children(v, rows, "verification")
    else:
        with transaction.atomic():
            v.steps.all().delete()
            v.save()
            VerificationStep.objects.bulk_create(rows)
    v.checked_steps = rows


def verify_now(**fields) -> Verification | None:
    """Check a new verification in the calling process and store it done, or None when
    the ledger could not be reached (the caller queues the job, which retries).

    A digest on the local ledger is a few queries: cheaper and sooner than the queue hop
    and the polls that the job costs.
    """
    v = Verification(
        **fields, status=Verification.Status.RUNNING, started_at=timezone.now(), attempts=1
    )
    try:
        outcome, steps, record = flow.run(v, get_backend())
    except BackendUnavailable:
        return None
    _save(v, outcome, steps, record)
    return v


@shared_task(bind=True, acks_late=True, max_retries=None)
def verify(self, verification_id: str) -> str:
    """Run one verification (safe to run twice). A ledger that cannot be reached is retried
    with backoff, then the verification says inconclusive; a database error is retried
    with backoff too. A retry that cannot be queued is left to `sweep`."""
    try:
        return _verify(self, verification_id)
    except DatabaseError as exc:
        if self.request.is_eager or self.request.retries >= settings.VERIFY_MAX_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries + 1)) from None


def _backoff(attempt: int) -> int:
    return min(2**attempt, 30)


def _verify(task, verification_id: str) -> str:
    v = Verification.objects.filter(pk=verification_id).first()
    if v is None or v.status == Verification.Status.DONE:
        return v.outcome if v else "gone"
    v.status, v.started_at = Verification.Status.RUNNING, v.started_at or timezone.now()
    v.attempts += 1
    v.save(update_fields=["status", "started_at", "attempts"])
    try:
        outcome, steps, record = flow.run(v, get_backend())
    except BackendUnavailable as exc:
        if v.attempts <= settings.VERIFY_MAX_RETRIES and not task.request.is_eager:
            raise task.retry(exc=exc, countdown=_backoff(v.attempts)) from None
        outcome, steps, record = (
            Verification.Outcome.INCONCLUSIVE,
            [unavailable_step("ledger", str(exc))],
            None,
        )
    _save(v, outcome, steps, record)
    return outcome


@shared_task(ignore_result=True)
def sweep() -> int:
    """Queue again the job of every verification still unfinished VERIFY_REQUEUE_AFTER
    seconds after its job was last queued: its row was committed while the broker was
    down, its retry could not be queued, or its worker died. Returns how many."""
    now = timezone.now()
    due = now - timedelta(seconds=settings.VERIFY_REQUEUE_AFTER)
    stale = Verification.objects.exclude(status=Verification.Status.DONE).filter(
        Q(queued_at__lt=due) | Q(queued_at__isnull=True, created_at__lt=due)
    )
    ids = list(
        stale.order_by("created_at").values_list("pk", flat=True)[: settings.VERIFY_SWEEP_MAX]
    )
    Verification.objects.filter(pk__in=ids).update(queued_at=now)
    for sent, pk in enumerate(ids):
        if not verify.send(pk):
            return sent  # the broker is down: the next sweep tries again
    return len(ids)


@shared_task(bind=True, acks_late=True, max_retries=None)
def issue_certificate(self, verification_id: str) -> str | None:
    """Render and sign a finished verification's certificate ahead of its download (queued
    for a person looking at the result page); retry backend outages."""
    v = Verification.objects.select_related("record__court").filter(pk=verification_id).first()
    if v is None or v.status != Verification.Status.DONE:
        return None
    try:
        return certificate.issue(v).number
    except Exception as exc:
        if self.request.is_eager:
            # In-process (embedded default) the job runs inside the request that queued
            # it, which must not fail with it, and there is no queue to retry from: the
            # certificate's first download renders it instead.
            log.exception("certificate of %s not made", verification_id)
            return None
        if not isinstance(exc, BackendUnavailable):
            raise
        if self.request.retries < settings.VERIFY_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(2 ** (self.request.retries + 1), 30)) from None
        raise


@shared_task(ignore_result=True)
def expire_certificates() -> int:
    """Delete the certificates older than CERTIFICATE_RETENTION_DAYS (a download renders
    them again); returns how many."""
    return certificate.expire(timedelta(days=settings.CERTIFICATE_RETENTION_DAYS))


@shared_task(ignore_result=True)
def ledger_fsck() -> int:
    """Re-derive everything from the ledger's entries; every discrepancy raises an alarm
    and the run's result shows on /health. Returns the command's exit code."""
    return fsck.run_and_keep().exit_code
