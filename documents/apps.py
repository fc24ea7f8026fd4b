from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """The court side: courts and their credentials, records, service events, QR codes."""

    name = "documents"
    verbose_name = "Court records 法院记录"

    def ready(self) -> None:
        from anchoring.sequencer import integrated
        from documents import schema  # noqa: F401  (registers the token in the OpenAPI schema)
        from documents.registration import note_indexes

        integrated.connect(note_indexes, dispatch_uid="documents.note_indexes")
