"""Anchors of published checkpoints on an EVM chain, and what the anchoring loop knows of
the chain (issue 17 §2)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("anchoring", "0008_checkpoint_timestamp"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChainState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url", models.TextField(unique=True)),
                ("chain_id", models.BigIntegerField(default=0)),
                ("anchored_size", models.BigIntegerField(default=0, help_text="newest confirmed")),
                ("anchored_block", models.BigIntegerField(blank=True, null=True)),
                (
                    "anchored_at",
                    models.DateTimeField(blank=True, help_text="its block's time", null=True),
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
            },
        ),
        migrations.CreateModel(
            name="ChainAnchor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("chain_id", models.BigIntegerField()),
                ("transaction_hash", models.CharField(max_length=66, unique=True)),
                ("sender", models.CharField(max_length=42)),
                ("nonce", models.BigIntegerField()),
                ("sent_at", models.DateTimeField()),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "pending"),
                            ("confirmed", "confirmed"),
                            ("dropped", "dropped"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("block_number", models.BigIntegerField(blank=True, null=True)),
                ("block_hash", models.CharField(blank=True, max_length=66)),
                ("block_time", models.DateTimeField(blank=True, null=True)),
                ("confirmations", models.BigIntegerField(default=0, help_text="when last read")),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("reason", models.TextField(blank=True, help_text="why it was dropped")),
                (
                    "checkpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="chain_anchors",
                        to="anchoring.publishedcheckpoint",
                    ),
                ),
            ],
            options={
                "ordering": ["checkpoint", "sent_at"],
                "indexes": [
                    models.Index(fields=["state", "checkpoint"], name="chain_anchor_state")
                ],
            },
        ),
    ]
