from django.core.management.base import BaseCommand

from anchoring import chain_anchors, keys, publisher, sequencer, timestamps


class Command(BaseCommand):
    help = (
        "Run the ledger sequencer in the foreground: integrate pooled submissions every "
        "LEDGER_BATCH_PERIOD seconds, and publish each new checkpoint once its witnesses "
        "cosign it, have the TSAs of LEDGER_TSA_URLS timestamp it and anchor it on the "
        "chain of LEDGER_CHAIN_RPC_URL. An alternative to the Celery beat jobs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="integrate one batch, publish, and exit"
        )

    def handle(self, *args, once: bool, **options) -> None:
        if once:
            self.stdout.write(f"integrated {sequencer.integrate()} entries")
            published = publisher.publisher.publish()
            if published is not None:
                self.stdout.write(f"published checkpoint {published.tree_size}")
            self.stdout.write(f"stored {timestamps.timestamp_newest()} timestamps")
            self.stdout.write(f"sent {chain_anchors.anchor_newest()} chain anchors")
            return
        if keys.has_witnesses():
            publisher.start_thread()
        timestamps.start_thread()
        chain_anchors.start_thread()
        sequencer.run()
