"""The verification job: takes a primary key, is safe to run twice, retries backend errors."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from anchoring.backend import BackendUnavailable, get_backend
from verification import flow
from verification.models import Verification, VerificationStep
from verification.steps import Step, unavailable_step


def _save(v: Verification, outcome: str, steps: list[Step], record) -> None:
    with transaction.atomic():
        v.steps.all().delete()
        VerificationStep.objects.bulk_create(
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
        )
        v.outcome, v.record = outcome, record
        v.status = Verification.Status.DONE
        v.finished_at = timezone.now()
        v.save()


@shared_task(bind=True, acks_late=True, max_retries=None)
def verify(self, verification_id: str) -> str:
    """Run one verification; on a backend outage retry with backoff, then say inconclusive."""
    v = Verification.objects.filter(pk=verification_id).first()
    if v is None or v.status == Verification.Status.DONE:
        return v.outcome if v else "gone"
    v.status, v.started_at = Verification.Status.RUNNING, v.started_at or timezone.now()
    v.attempts += 1
    v.save(update_fields=["status", "started_at", "attempts"])
    try:
        outcome, steps, record = flow.run(v, get_backend())
    except BackendUnavailable as exc:
        if v.attempts <= settings.VERIFY_MAX_RETRIES and not settings.CELERY_TASK_ALWAYS_EAGER:
            raise self.retry(exc=exc, countdown=min(2**v.attempts, 30)) from None
        outcome, steps, record = (
            Verification.Outcome.INCONCLUSIVE,
            [unavailable_step("ledger", str(exc))],
            None,
        )
    _save(v, outcome, steps, record)
    return outcome
