from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Holds the `seed_demo` command."""

    name = "demo"
    verbose_name = "Demo data"
