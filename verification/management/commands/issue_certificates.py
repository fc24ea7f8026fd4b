"""Render the certificates that recent finished verifications do not have yet, ahead of
their download (which would render them anyway)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from anchoring.backend import BackendUnavailable
from verification import certificate
from verification.models import Verification


class Command(BaseCommand):
    help = (
        "Render and sign a certificate for every verification finished within "
        "CERTIFICATE_RETENTION_DAYS that has none kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="at most this many")

    def handle(self, *args, limit: int, **options):
        since = timezone.now() - timedelta(days=settings.CERTIFICATE_RETENTION_DAYS)
        missing = Verification.objects.filter(
            status=Verification.Status.DONE, finished_at__gte=since, certificate__isnull=True
        ).select_related("record__court")[:limit]
        made = 0
        for v in missing:
            try:
                certificate.issue(v)
            except BackendUnavailable as exc:
                self.stderr.write(f"{v.id}: the ledger cannot be reached ({exc}); stopping")
                raise SystemExit(1) from None
            made += 1
        self.stdout.write(f"{made} certificate(s) issued")
