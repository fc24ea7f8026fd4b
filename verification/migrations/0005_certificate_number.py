"""Every verification knows its certificate's number from the start (certificates are
rendered on demand): the number of the certificate it has, else a new one."""

from django.db import migrations, models

import verification.models

CHUNK = 2000


def number_every_verification(apps, schema_editor):
    Verification = apps.get_model("verification", "Verification")
    Certificate = apps.get_model("verification", "Certificate")
    for number, verification_id in Certificate.objects.values_list("number", "verification_id"):
        Verification.objects.filter(pk=verification_id).update(certificate_number=number)
    while True:
        rows = list(Verification.objects.filter(certificate_number__isnull=True)[:CHUNK])
        if not rows:
            return
        for row in rows:
            row.certificate_number = verification.models.new_certificate_number()
        Verification.objects.bulk_update(rows, ["certificate_number"])


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0004_requeue_sweeper"),
    ]

    operations = [
        migrations.AddField(
            model_name="verification",
            name="certificate_number",
            field=models.CharField(editable=False, max_length=18, null=True),
        ),
        migrations.RunPython(number_every_verification, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="verification",
            name="certificate_number",
            field=models.CharField(
                default=verification.models.new_certificate_number,
                editable=False,
                max_length=18,
                unique=True,
            ),
        ),
    ]
