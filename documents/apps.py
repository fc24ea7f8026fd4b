from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """The court side: courts and their credentials, records, service events, QR codes."""

    name = "documents"
    verbose_name = "Court records 法院记录"
