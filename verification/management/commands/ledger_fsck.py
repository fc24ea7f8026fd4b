import json

from django.core.management.base import BaseCommand

from anchoring.fsck import keep_result
from verification import fsck


class Command(BaseCommand):
    help = (
        "Re-derive everything from the ledger's entries (tiles, derived columns, checkpoints, "
        "their consistency, records and service events) and print every discrepancy. "
        "Exit code 0 clean, 1 discrepancies found, 2 the check could not run."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="one JSON object on stdout"
        )
        parser.add_argument(
            "--no-keep",
            action="store_true",
            help="raise no alarms and keep no result (on a read-only database, say)",
        )

    def handle(self, *args, as_json: bool, no_keep: bool, **options) -> None:
        if as_json:
            report = fsck.run()
        else:
            report = fsck.run(on_discrepancy=lambda d: self.stdout.write(d.line()))
        if not no_keep:
            keep_result(report)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        elif report.error:
            self.stderr.write(report.summary())
        else:
            self.stdout.write(report.summary())
        if report.exit_code:
            raise SystemExit(report.exit_code)
