from django.core.management.base import BaseCommand

from witness import keys


class Command(BaseCommand):
    help = "Print the witness's cosignature key (C2SP vkey, type 0x04), one line."

    def handle(self, *args, **options) -> None:
        self.stdout.write(keys.vkey())
