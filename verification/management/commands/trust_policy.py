"""Print this deployment's trust policy for `judicial-verify certificate|bundle --policy`."""

import dataclasses
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from verification import signing, trust


class Command(BaseCommand):
    help = (
        "Print the trust policy (log key, alliance witnesses and quorum, portal CA, TSA CAs) "
        "for the offline verifier."
    )

    def handle(self, *args, **options):
        pinned = trust.pinned()
        if pinned is None:
            self.stderr.write(
                "No log key: set LEDGER_TRUST_POLICY or LEDGER_VERIFIER_KEY (or the ledger "
                "signing key)."
            )
            raise SystemExit(1)
        identity = signing.identity()
        note = "Trust policy for judicial-verify (certificate, bundle): this portal's keys."
        if identity.development:
            note += "\nThe portal CA is the embedded default's DEVELOPMENT CA: not for court use."
        tsa_cas = set(pinned.policy.tsa_cas)
        if settings.CERTIFICATE_TSA_CA_FILE:
            ca = Path(settings.CERTIFICATE_TSA_CA_FILE).read_bytes()
            tsa_cas |= set(signing.fingerprints(ca))
        policy = dataclasses.replace(
            pinned.policy,
            portal_cas=pinned.policy.portal_cas | set(identity.ca_fingerprints),
            tsa_cas=tsa_cas,
        )
        self.stdout.write(policy.format(note), ending="")
