from django.core.management.base import BaseCommand, CommandError

from documents.models import Court, CourtToken


class Command(BaseCommand):
    help = (
        "Issue a new API token for a court's system and print it once. Only its SHA-256 "
        "is stored: keep the printed token, it cannot be shown again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("code", help="the court's code")
        parser.add_argument("--label", default="", help="which system will hold it")

    def handle(self, *args, code: str, label: str, **options) -> None:
        court = Court.objects.filter(code=code).first()
        if court is None:
            raise CommandError(f"no court with code {code}; create it with court_create")
        _, token = CourtToken.issue(court, label)
        self.stdout.write(token)
