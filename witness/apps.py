from django.apps import AppConfig


class WitnessConfig(AppConfig):
    """The witness role: cosigns other alliance members' logs (C2SP tlog-witness)."""

    name = "witness"
    verbose_name = "Witness 见证"

    def ready(self) -> None:
        from witness import checks  # noqa: F401  (registers the log list's system check)
