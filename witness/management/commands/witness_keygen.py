from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from witness import keys


class Command(BaseCommand):
    help = (
        "Create a new witness key file (Go note signer form) named for WITNESS_NAME, and "
        "print its cosignature vkey. Refuses to overwrite an existing file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", type=Path, default=settings.WITNESS_SIGNING_KEY_FILE)
        parser.add_argument("--name", default=settings.WITNESS_NAME)

    def handle(self, *args, out: Path, name: str, **options) -> None:
        if out.exists():
            raise CommandError(f"{out} already exists; a witness keeps its key for life.")
        self.stdout.write(keys.write_new_key(out, name))
