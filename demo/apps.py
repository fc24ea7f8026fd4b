from django.apps import AppConfig
from django.conf import settings


class DemoConfig(AppConfig):
    """Holds the `seed_demo` command, the embedded default's demo alliance and its
    DEVELOPMENT timestamp authority."""

    name = "demo"
    verbose_name = "Demo data"

    def ready(self) -> None:
        if settings.DEMO_WITNESSES:
            from demo import alliance

            alliance.ensure_policy()
            alliance.register()
        if settings.DEMO_TSA:
            from demo import dev_tsa

            dev_tsa.register()
