"""Ledger data in the admin: readable by staff, never editable."""

from django.contrib import admin

from anchoring.models import Checkpoint, Entry, Submission, Tile


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


@admin.register(Tile)
class TileAdmin(ReadOnlyAdmin):
    list_display = ["level", "index"]


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ["id", "submitted_at"]
