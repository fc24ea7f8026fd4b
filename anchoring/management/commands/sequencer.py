from django.core.management.base import BaseCommand

from anchoring import sequencer


class Command(BaseCommand):
    help = (
        "Run the ledger sequencer in the foreground: integrate pooled submissions every "
        "LEDGER_BATCH_PERIOD seconds. An alternative to the Celery beat job."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="integrate one batch and exit")

    def handle(self, *args, once: bool, **options) -> None:
        if once:
            self.stdout.write(f"integrated {sequencer.integrate()} entries")
            return
        sequencer.run()
