"""Print this deployment's trust policy for `judicial-verify certificate|bundle --policy`."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from anchoring.keys import pinned_verifier
from anchoring.note import verifier_key
from verification import signing
from verification.policy import format_policy


class Command(BaseCommand):
    help = "Print the trust policy (log key, portal CA) for the offline verifier."

    def handle(self, *args, **options):
        verifier = pinned_verifier()
        if verifier is None:
            self.stderr.write("No log key: set LEDGER_VERIFIER_KEY (or the ledger signing key).")
            raise SystemExit(1)
        identity = signing.identity()
        note = "Trust policy for judicial-verify (certificate, bundle): this portal's keys."
        if identity.development:
            note += "\nThe portal CA is the embedded default's DEVELOPMENT CA: not for court use."
        tsa_cas = []
        if settings.CERTIFICATE_TSA_CA_FILE:
            tsa_cas = signing.fingerprints(Path(settings.CERTIFICATE_TSA_CA_FILE).read_bytes())
        policy = format_policy([verifier_key(verifier)], identity.ca_fingerprints, tsa_cas, note)
        self.stdout.write(policy, ending="")
