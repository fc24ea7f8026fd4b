"""The logs a witness follows, in the admin: their keys and budgets are editable, their
cosigned state never (it only moves forward, through add-checkpoint)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from anchoring.note import encode_base64
from witness.models import Log


@admin.register(Log)
class LogAdmin(admin.ModelAdmin):
    list_display = ("origin", "size", "cosigned_at", "qpd", "active", "from_list")
    list_filter = ("active", "from_list")
    search_fields = ("origin", "vkey", "contact")
    readonly_fields = (
        "origin_hash",
        "from_list",
        "size",
        "root_hash_base64",
        "cosigned_at",
        "note",
        "created_at",
    )

    def get_readonly_fields(self, request, obj=None):
        # The origin names the log's state: fixed once the row exists.
        fields = super().get_readonly_fields(request, obj)
        return ("origin", *fields) if obj is not None else fields

    @admin.display(description=gettext_lazy("root hash (base64)"))
    def root_hash_base64(self, obj: Log) -> str:
        return encode_base64(bytes(obj.root_hash))
