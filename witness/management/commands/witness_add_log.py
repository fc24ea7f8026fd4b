from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from anchoring.note import InvalidKeyError, parse_verifier_key
from witness.log_list import MAX_QPD
from witness.models import Log, origin_hash


class Command(BaseCommand):
    help = (
        "Follow a log: its vkey (Ed25519, C2SP vkey form), its origin (default: the key's "
        "name), its requests a day and a contact. Updates a log added so before; refuses "
        "one from WITNESS_LOG_LIST (edit the file instead)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("vkey")
        parser.add_argument("--origin", default=None)
        parser.add_argument("--qpd", type=int, default=settings.WITNESS_DEFAULT_QPD)
        parser.add_argument("--contact", default="")
        parser.add_argument("--database", default="default")

    def handle(self, *args, vkey: str, origin, qpd: int, contact: str, database: str, **options):
        try:
            key = parse_verifier_key(vkey)
        except InvalidKeyError as exc:
            raise CommandError(f"invalid vkey: {exc}") from None
        if not 1 <= qpd <= MAX_QPD:
            raise CommandError(f"--qpd must be 1 to {MAX_QPD}")
        origin = key.name if origin in (None, "none") else origin
        if not origin or "\n" in origin:
            raise CommandError("--origin must be one non-empty line")
        with transaction.atomic(using=database):
            row = (
                Log.objects.using(database)
                .select_for_update()
                .filter(origin_hash=origin_hash(origin))
                .first()
            )
            if row is not None and row.from_list and row.active:
                raise CommandError(
                    f"{origin} comes from WITNESS_LOG_LIST; change it in that file instead."
                )
            if row is None:
                row = Log(origin=origin)
            row.vkey, row.qpd, row.contact, row.active = vkey, qpd, contact, True
            row.from_list = False
            row.save(using=database)
        self.stdout.write(f"following {origin} ({row.size} cosigned)")
