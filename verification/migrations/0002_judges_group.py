"""The "judges" group: members see records unmasked and their verification history."""

from django.db import migrations


def create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(
        app_label="verification", model="verification"
    )
    permission, _ = Permission.objects.get_or_create(
        codename="view_full_record",
        content_type=content_type,
        defaults={"name": "Can see records unmasked and their verification history"},
    )
    group, _ = Group.objects.get_or_create(name="judges")
    group.permissions.add(permission)


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="judges").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create, remove)]
