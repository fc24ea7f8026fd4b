from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from documents.models import Court


class Command(BaseCommand):
    help = "Create a court that may record files through the court API."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--code", required=True, help="short stable code, e.g. BJ0105")
        parser.add_argument("--name-zh", required=True)
        parser.add_argument("--name-en", required=True)
        # Contact details litigants see when a file is not found or differs (and on /courts).
        parser.add_argument("--phone", default="")
        parser.add_argument("--address-zh", default="")
        parser.add_argument("--address-en", default="")
        parser.add_argument("--website", default="")

    def handle(self, *args, code: str, name_zh: str, name_en: str, **options) -> None:
        if Court.objects.filter(code=code).exists():
            raise CommandError(f"a court with code {code} already exists")
        court = Court(
            code=code,
            name_zh=name_zh,
            name_en=name_en,
            phone=options["phone"],
            address_zh=options["address_zh"],
            address_en=options["address_en"],
            website=options["website"],
        )
        try:
            court.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        court.save()
        self.stdout.write(f"created court {court.code}: {court.name_zh} / {court.name_en}")
