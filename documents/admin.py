"""Admin for court staff: courts, credentials (create, revoke), records and service events.

What is in the ledger cannot be changed here: records and events are shown read-only.
Everything is in the reader's language; the choices of records and events, declared as
"Chinese English" for certificates, are shown in one (plumbing/bilingual.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from documents import codes
from documents.models import Court, CourtToken, Record, ServiceEvent, TokenUse
from plumbing.bilingual import half

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise  # a lazy translation, to type checkers


def choice_name(field: str, description: str | _StrPromise) -> Callable:
    """An admin column (or read-only field) naming `field`'s choice in the reader's language."""

    @admin.display(description=description, ordering=field)
    def name(self, obj) -> str:
        return half(getattr(obj, f"get_{field}_display")(), get_language())

    return name


class ChoiceFilter(admin.SimpleListFilter):
    """A list filter by a field's choices, each named in the reader's language."""

    field = ""

    def lookups(self, request, model_admin):
        choices = model_admin.model._meta.get_field(self.field).choices
        return [(value, half(label, get_language())) for value, label in choices]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


def choice_filter(field: str, title: str | _StrPromise) -> type[ChoiceFilter]:
    """The ChoiceFilter of `field`, under `title`, with the field's own query parameter."""
    attributes = {"field": field, "parameter_name": field, "title": title}
    return type(f"{field.title()}Filter", (ChoiceFilter,), attributes)


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
        messages.warning(request, _("New token, shown only once: %(token)s") % {"token": secret})

    @admin.action(description=gettext_lazy("Revoke selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            token.revoke()
        count = queryset.count()
        message = ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
        messages.success(request, message % {"count": count})

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
    fields = (
        "event_name",
        "channel_name",
        "addressee",
        "occurred_at",
        "recorded_at",
        "ledger_index",
    )
    readonly_fields = fields
    event_name = choice_name("event", gettext_lazy("event"))
    channel_name = choice_name("channel", gettext_lazy("channel"))
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = [
        "display_code",
        "court",
        "category_name",
        "title",
        "case_number",
        "recorded_at",
    ]
    list_filter = ["court", choice_filter("category", gettext_lazy("category"))]
    search_fields = ["code", "title", "case_number", "sha256", "sm3"]
    inlines = [ServiceEventInline]
    readonly_fields = [
        "code",
        "court",
        "category_name",
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

    category_name = choice_name("category", gettext_lazy("category"))

    @admin.display(description=gettext_lazy("record code"), ordering="code")
    def display_code(self, obj: Record) -> str:
        return codes.display(obj.code)

    def has_add_permission(self, request) -> bool:
        return False  # records are made through the court API, which writes the ledger

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServiceEvent)
class ServiceEventAdmin(admin.ModelAdmin):
    list_display = [
        "record",
        "event_name",
        "channel_name",
        "addressee",
        "occurred_at",
        "ledger_index",
    ]
    list_filter = [
        choice_filter("event", gettext_lazy("event")),
        choice_filter("channel", gettext_lazy("channel")),
    ]
    fields = readonly_fields = (
        "record",
        "event_name",
        "channel_name",
        "addressee",
        "details",
        "occurred_at",
        "recorded_at",
        "ledger_index",
    )
    event_name = choice_name("event", gettext_lazy("event"))
    channel_name = choice_name("channel", gettext_lazy("channel"))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
