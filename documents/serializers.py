"""Court API input validation and the JSON form of records and service events."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

from anchoring import sequencer
from anchoring.sequencer import Receipt
from documents import codes
from documents.ledger import ledger_index
from documents.models import Record, ServiceEvent
from documents.registration import verification_url
from plumbing.errors import ApiError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _digest(value: str, field: str) -> bytes:
    if not _HEX64.fullmatch(value or ""):
        raise ApiError(
            "malformed_digest",
            f"{field} 摘要格式错误：应为 64 位十六进制字符。",
            f"The {field} digest is malformed: it must be 64 hexadecimal characters.",
            field=field,
        )
    return bytes.fromhex(value)


class SharedFieldsSerializer(serializers.Serializer):
    """A serializer whose fields are built once per class, not for every instance.

    DRF deep-copies the declared fields into each serializer it makes, which was three
    quarters of validating a court request. The fields used here keep no state between
    validations (no context-dependent defaults or validators), so one bound set, made for
    a blank instance, serves every request and thread.
    """

    @property
    def fields(self):
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            shared = serializers.Serializer.fields.func(cls())  # DRF's own binding, once
            cls._shared_fields = shared
        return shared


class RecordInput(SharedFieldsSerializer):
    """A new record: a file (multipart) or its digests (JSON), and metadata."""

    file = serializers.FileField(required=False, allow_empty_file=True)
    sha256 = serializers.CharField(required=False)
    sm3 = serializers.CharField(required=False)
    category = serializers.ChoiceField(choices=Record.Category.values)
    title = serializers.CharField(max_length=300)
    case_number = serializers.CharField(max_length=100, required=False, allow_blank=True)
    parties = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, required=False
    )
    stamp = serializers.BooleanField(default=False)
    stamp_pages = serializers.CharField(max_length=100, default="all")
    allow_download = serializers.BooleanField(default=False)

    def validate(self, data: dict) -> dict:
        upload = data.get("file")
        if upload is not None:
            if upload.size == 0:
                raise ApiError("empty_file", "文件为空。", "The file is empty.", field="file")
            if upload.size > settings.RECORD_MAX_FILE_SIZE:
                limit = settings.RECORD_MAX_FILE_SIZE // (1 << 20)
                raise ApiError(
                    "file_too_large",
                    f"文件超过 {limit} MB 的上限。",
                    f"The file is larger than the {limit} MB limit.",
                    field="file",
                )
            # The record keeps the declared type (Django already cuts names to 255).
            limit = Record._meta.get_field("media_type").max_length
            if len(upload.content_type or "") > limit:
                raise ApiError(
                    "too_long",
                    f"文件的类型（Content-Type）最多 {limit} 个字符。",
                    f"The file's media type (Content-Type) may have at most {limit} characters.",
                    field="file",
                )
            if "sha256" in data or "sm3" in data:
                raise ApiError(
                    "ambiguous_content",
                    "请只提供文件或摘要其中之一。",
                    "Send either the file or its digests, not both.",
                    field="file",
                )
        else:
            for name in ("sha256", "sm3"):
                if name not in data:
                    raise ApiError(
                        "missing_content",
                        "请提供文件，或同时提供 sha256 和 sm3 摘要。",
                        "Send the file, or both its sha256 and sm3 digests.",
                        field="file" if name == "sha256" and "sm3" not in data else name,
                    )
                data[name] = _digest(data[name], name)
            if data.get("stamp"):
                raise ApiError(
                    "stamp_needs_file",
                    "加盖二维码需要上传 PDF 文件本身。",
                    "Stamping needs the PDF itself, not its digests.",
                    field="stamp",
                )
        return data


class RecordBatchItem(RecordInput):
    """A record of a batch, by its digests, under the rules of POST /api/v1/records."""

    # The OpenAPI schema's item; items are validated by RecordInput itself.
    file = stamp = stamp_pages = None
    sha256 = serializers.CharField()
    sm3 = serializers.CharField()


class EventInput(SharedFieldsSerializer):
    """A service event sent by a court's system."""

    event = serializers.ChoiceField(choices=ServiceEvent.Event.values)
    channel = serializers.ChoiceField(
        choices=ServiceEvent.Channel.values, required=False, allow_blank=True
    )
    addressee = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)
    details = serializers.DictField(required=False)


def ledger_json(row: Record | ServiceEvent, receipt: Receipt | None = None) -> dict | None:
    """Where the row's entry is in the ledger, with a proof against a signed checkpoint."""
    if receipt is None:
        index = ledger_index(row)
        if index is None:
            return None
        receipt = sequencer.receipt(index)
    return {
        "index": receipt.index,
        "leaf_hash": receipt.leaf_hash.hex(),
        "tree_size": receipt.tree_size,
        "inclusion_proof": [h.hex() for h in receipt.inclusion_proof],
        "checkpoint": receipt.checkpoint,
    }


def event_json(event: ServiceEvent, receipt: Receipt | None = None) -> dict:
    """A service event as the court API shows it."""
    return {
        "event": event.event,
        "channel": event.channel or None,
        "addressee": event.addressee.name if event.addressee else None,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "ledger": ledger_json(event, receipt),
    }


def record_json(
    record: Record, request, receipt: Receipt | None = None, events: list | None = None
) -> dict:
    """A record as its own court sees it through the API.

    `events`: the record's service events when the caller knows them (none for a record
    just made), else they are read.
    """
    if events is None:
        events = record.events.select_related("addressee")
    code = codes.display(record.code)
    api = request.build_absolute_uri(f"/api/v1/records/{code}")
    return {
        "code": code,
        "verification_url": verification_url(record.code),
        "qr_png": f"{api}/qr.png",
        "qr_svg": f"{api}/qr.svg",
        "court": {
            "code": record.court.code,
            "name_zh": record.court.name_zh,
            "name_en": record.court.name_en,
        },
        "category": record.category,
        "title": record.title,
        "case_number": record.case_number,
        "parties": record.parties,
        "sha256": record.sha256,
        "sm3": record.sm3,
        "size": record.size,
        "media_type": record.media_type,
        "stamped": record.stamped,
        "stamped_file": f"{api}/file" if record.stamped else None,
        "allow_download": record.allow_download,
        "recorded_at": record.recorded_at.isoformat(),
        "ledger": ledger_json(record, receipt),
        "events": [event_json(e) for e in events],
    }
