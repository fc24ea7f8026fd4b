from django.core.management.base import BaseCommand

from anchoring import keys


class Command(BaseCommand):
    help = "Print the ledger's verifier key (C2SP vkey form), one line."

    def handle(self, *args, **options) -> None:
        self.stdout.write(keys.vkey())
