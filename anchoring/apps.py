from django.apps import AppConfig


class AnchoringConfig(AppConfig):
    """The court ledger: a C2SP tiled transparency log in the portal's database."""

    name = "anchoring"
    verbose_name = "Ledger 账本"
