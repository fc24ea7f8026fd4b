"""Admin for court staff: courts, credentials (create, revoke), records and service events.

What is in the ledger cannot be changed here: records and events are shown read-only.
"""

from django.contrib import admin, messages

from documents import codes
from documents.models import Court, CourtToken, Record, ServiceEvent, TokenUse


@admin.register(Court)
class CourtAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "phone", "created_at"]
    search_fields = ["code", "name_zh", "name_en"]
    fields = ["code", "name_zh", "name_en", "phone", "address_zh", "address_en", "website"]


@admin.register(CourtToken)
class CourtTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "court", "label", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["court"]
    fields = ["court", "label"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return ["court", "label"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, secret = CourtToken.issue(obj.court, obj.label)
        obj.pk = token.pk
        messages.warning(
            request,
            f"新令牌（只显示这一次）New token, shown only once: {secret}",
        )

    @admin.action(description="吊销所选令牌 Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
        messages.success(request, f"{queryset.count()} token(s) revoked.")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead, so the log of its uses stays


@admin.register(TokenUse)
class TokenUseAdmin(admin.ModelAdmin):
    list_display = ["at", "token", "method", "path", "status", "ip"]
    list_filter = ["token__court"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ServiceEventInline(admin.TabularInline):
    model = ServiceEvent
    fields = ("event", "channel", "addressee", "occurred_at", "recorded_at", "ledger_index")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["display_code", "court", "category", "title", "case_number", "recorded_at"]
    list_filter = ["court", "category"]
    search_fields = ["code", "title", "case_number", "sha256", "sm3"]
    inlines = [ServiceEventInline]
    readonly_fields = [
        "code",
        "court",
        "category",
        "title",
        "case_number",
        "parties",
        "sha256",
        "sm3",
        "size",
        "media_type",
        "filename",
        "file",
        "stamped",
        "recorded_at",
        "ledger_index",
    ]
    fields = [*readonly_fields, "allow_download"]

    @admin.display(description="核验码 Code", ordering="code")
    def display_code(self, obj: Record) -> str:
        return codes.display(obj.code)

    def has_add_permission(self, request) -> bool:
        return False  # records are made through the court API, which writes the ledger

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServiceEvent)
class ServiceEventAdmin(admin.ModelAdmin):
    list_display = ["record", "event", "channel", "addressee", "occurred_at", "ledger_index"]
    list_filter = ["event", "channel"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
