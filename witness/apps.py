from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WitnessConfig(AppConfig):
    """The witness role: cosigns other alliance members' logs (C2SP tlog-witness)."""

    name = "witness"
    verbose_name = _("Witness")

    def ready(self) -> None:
        from witness import checks  # noqa: F401  (registers the log list's system check)
