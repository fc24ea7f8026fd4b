from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    """The court side: courts and their credentials, records, service events, QR codes."""

    name = "documents"
    verbose_name = _("Court records")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from anchoring.sequencer import integrated
        from documents import auth, schema  # noqa: F401  (schema: the token in OpenAPI)
        from documents.ledger import note_indexes
        from documents.models import CourtToken

        integrated.connect(note_indexes, dispatch_uid="documents.note_indexes")
        # A token revoked here stops working here at once, not after the cache period.
        post_save.connect(auth.forget, sender=CourtToken, dispatch_uid="documents.auth.forget")
