"""Issue the certificates that finished verifications are still missing (a backfill)."""

from django.core.management.base import BaseCommand

from anchoring.backend import BackendUnavailable
from verification import certificate
from verification.models import Verification


class Command(BaseCommand):
    help = "Render and sign a certificate for every finished verification that has none."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="at most this many")

    def handle(self, *args, limit: int, **options):
        missing = Verification.objects.filter(
            status=Verification.Status.DONE, certificate__isnull=True
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
