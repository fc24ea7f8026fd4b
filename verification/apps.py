from django.apps import AppConfig


class VerificationConfig(AppConfig):
    """The public side: intake, verification jobs, their results and pages."""

    name = "verification"
    verbose_name = "Verification 核验"
