"""Ledger data in the admin: readable by staff, never editable; alarms to resolve."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from anchoring.models import (
    Alarm,
    Checkpoint,
    Entry,
    FsckRun,
    PublishedCheckpoint,
    Submission,
    Tile,
    WitnessState,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["index", "kind", "sha256_hex", "integrated_at"]

    @admin.display(description="SHA-256")
    def sha256_hex(self, obj: Entry) -> str:
        return bytes(obj.sha256).hex()


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "created_at"]


@admin.register(PublishedCheckpoint)
class PublishedCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "quorum_met", "published_at"]


@admin.register(WitnessState)
class WitnessStateAdmin(admin.ModelAdmin):
    """The publisher keeps each witness's state; an operator only names who runs it, for
    the alliance page. Witnesses come and go with LEDGER_WITNESS_POLICY, not here."""

    list_display = [
        "name",
        "organisation_zh",
        "ok",
        "cosigned_size",
        "cosigned_at",
        "failing_since",
    ]
    readonly_fields = [
        "name",
        "vkey",
        "url",
        "cosigned_size",
        "cosigned_at",
        "ok",
        "failing_since",
        "last_error",
        "checked_at",
    ]
    fields = ["name", "organisation_zh", "organisation_en", *readonly_fields[1:]]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tile)
class TileAdmin(ReadOnlyAdmin):
    list_display = ["level", "index"]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["id", "submitted_at"]


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    """Alarms are raised by the code, never edited; an operator only marks them resolved."""

    list_display = ["raised_at", "source", "subject", "short_message", "count", "resolved_at"]
    list_filter = ["source", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "message"]
    readonly_fields = [f.name for f in Alarm._meta.fields]
    actions = ["mark_resolved"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("message"))
    def short_message(self, obj: Alarm) -> str:
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    @admin.action(description=gettext_lazy("Mark selected alarms resolved"), permissions=["change"])
    def mark_resolved(self, request, queryset) -> None:
        count = queryset.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        message = ngettext(
            "%(count)d alarm marked resolved.", "%(count)d alarms marked resolved.", count
        )
        self.message_user(request, message % {"count": count})


@admin.register(FsckRun)
class FsckRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "exit_code", "discrepancies", "entries", "seconds", "summary"]
