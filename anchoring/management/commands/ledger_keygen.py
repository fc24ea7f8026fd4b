from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from anchoring import keys


class Command(BaseCommand):
    help = (
        "Create a new ledger signing key file (Go note signer form) named for LEDGER_ORIGIN, "
        "and print its verifier key. Refuses to overwrite an existing file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", type=Path, default=settings.LEDGER_SIGNING_KEY_FILE)
        parser.add_argument("--name", default=settings.LEDGER_ORIGIN)

    def handle(self, *args, out: Path, name: str, **options) -> None:
        if out.exists():
            raise CommandError(f"{out} already exists; a log keeps its key for life.")
        self.stdout.write(keys.write_new_key(out, name))
