from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from witness import registry
from witness.log_list import LogListError


class Command(BaseCommand):
    help = (
        "Load the witness's log list (WITNESS_LOG_LIST, or the file given) into its table: "
        "each listed log is followed, listed logs no longer in the file are not."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", default=settings.WITNESS_LOG_LIST)
        parser.add_argument("--database", default="default")

    def handle(self, *args, path: str, database: str, **options) -> None:
        if not path:
            raise CommandError("No log list: set WITNESS_LOG_LIST or give a path.")
        try:
            loaded = registry.load_log_list(Path(path), database)
        except (OSError, UnicodeDecodeError, LogListError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        self.stdout.write(f"{loaded.listed} logs followed, {loaded.dropped} no longer followed")
