from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def create_judges_group(sender, **kwargs) -> None:
    """The "judges" group: members see records unmasked and their verification history.

    Made after every migrate (and test flush), when the permission itself exists."""
    from django.contrib.auth.models import Group, Permission

    permission = Permission.objects.filter(
        content_type__app_label="verification", codename="view_full_record"
    ).first()
    if permission is not None:
        Group.objects.get_or_create(name="judges")[0].permissions.add(permission)


class VerificationConfig(AppConfig):
    """The public side: intake, verification jobs, their results and pages."""

    name = "verification"
    verbose_name = _("Verification")

    def ready(self) -> None:
        # After auth's own handler has created the permissions.
        post_migrate.connect(create_judges_group, dispatch_uid="verification.judges")
