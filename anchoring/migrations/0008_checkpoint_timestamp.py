"""RFC 3161 timestamps of published checkpoints, and what the timestamper knows of each
timestamp authority. Timestamp rows are append-only like the log's other rows."""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "anchoring_checkpointtimestamp"


def append_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":  # ledger_refuse_change() is made by 0002_append_only
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    elif vendor == "sqlite":
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER {TABLE}_no_{op.lower()} BEFORE {op} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: {op} refused'); END"
            )


def remove_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}")
    elif vendor == "sqlite":
        for op in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{op}")


class Migration(migrations.Migration):
    dependencies = [
        ("anchoring", "0007_published_checkpoint_witness_state"),
    ]

    operations = [
        migrations.CreateModel(
            name="CheckpointTimestamp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "tsa",
                    models.CharField(
                        help_text="the authority's name, from its certificate", max_length=300
                    ),
                ),
                ("url", models.TextField(help_text="where it was asked")),
                ("token", models.BinaryField(help_text="DER TimeStampToken")),
                ("gen_time", models.DateTimeField()),
                ("ca", models.BinaryField(help_text="DER of the pinned CA certificate")),
                ("received_at", models.DateTimeField()),
                (
                    "checkpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="timestamps",
                        to="anchoring.publishedcheckpoint",
                    ),
                ),
            ],
            options={
                "ordering": ["checkpoint", "gen_time"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("checkpoint", "url"), name="timestamp_checkpoint_url"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="TimestampAuthority",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url", models.TextField(unique=True)),
                (
                    "name",
                    models.CharField(blank=True, help_text="from its certificate", max_length=300),
                ),
                ("timestamped_size", models.BigIntegerField(default=0)),
                (
                    "timestamped_at",
                    models.DateTimeField(blank=True, help_text="its genTime", null=True),
                ),
                ("ok", models.BooleanField(default=False)),
                ("failing_since", models.DateTimeField(blank=True, null=True)),
                (
                    "failures",
                    models.PositiveIntegerField(default=0, help_text="in a row; sets the backoff"),
                ),
                ("last_error", models.TextField(blank=True)),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("retry_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["url"],
                "verbose_name_plural": "timestamp authorities",
            },
        ),
        migrations.RunPython(append_only, remove_triggers),
    ]
