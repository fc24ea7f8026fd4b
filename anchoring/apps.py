from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnchoringConfig(AppConfig):
    """The court ledger: a C2SP tiled transparency log in the portal's database."""

    name = "anchoring"
    verbose_name = _("Ledger")
