from django.conf import settings
from django.core.management.base import BaseCommand

from demo import seeding


class Command(BaseCommand):
    help = "Create the demo court and records (once) and print where to find them."

    def handle(self, *args, **options) -> None:
        self.stdout.write(seeding.describe(seeding.seed(), settings.PUBLIC_BASE_URL))
