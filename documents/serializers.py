"""Court API input validation and the JSON form of records and service events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from django.conf import settings
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from anchoring import sequencer
from anchoring.digest import parse_hex
from anchoring.sequencer import Receipt
from documents import codes
from documents.ledger import ledger_index
from documents.models import Record, ServiceEvent
from documents.registration import verification_url
from plumbing import error_codes
from plumbing.errors import ApiError
from plumbing.visible_input import VisibleTextSerializer


def _digest(value: str, field: str) -> bytes:
    digest = parse_hex(value)
    if digest is None:
        raise ApiError(error_codes.MALFORMED_DIGEST, field=field, name=field)
    return digest


class SharedFieldsSerializer(serializers.Serializer):
    """A serializer whose fields are built once per class, not for every instance.

    DRF deep-copies the declared fields into each serializer it makes, which was three
    quarters of validating a court request. The fields used here keep no state between
    validations (no context-dependent defaults or validators), so one bound set, made for
    a blank instance, serves every request and thread.
    """

    _shared_fields: ClassVar[BindingDict]  # set on each subclass by `fields`

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            # DRF's own binding, once. `fields` is a cached_property; the stubs call it a
            # property, which has no `func`.
            shared = serializers.Serializer.fields.func(cls())  # type: ignore[attr-defined]
            cls._shared_fields = shared
        return shared


class RecordInput(VisibleTextSerializer, SharedFieldsSerializer):
    """A new record: a file (multipart) or its digests (JSON), and metadata; its text as
    sent, with no hidden characters (plumbing/visible_text.py)."""

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
                raise ApiError(error_codes.EMPTY_FILE, field="file")
            if upload.size > settings.RECORD_MAX_FILE_SIZE:
                limit = settings.RECORD_MAX_FILE_SIZE // (1 << 20)
                raise ApiError(error_codes.RECORD_FILE_TOO_LARGE, field="file", limit=limit)
            # The record keeps the declared type (Django already cuts names to 255).
            limit = Record._meta.get_field("media_type").max_length
            assert limit is not None
            if len(upload.content_type or "") > limit:
                raise ApiError(error_codes.MEDIA_TYPE_TOO_LONG, field="file", limit=limit)
            if "sha256" in data or "sm3" in data:
                raise ApiError(error_codes.AMBIGUOUS_CONTENT, field="file")
        else:
            for name in ("sha256", "sm3"):
                if name not in data:
                    raise ApiError(
                        error_codes.MISSING_CONTENT,
                        field="file" if name == "sha256" and "sm3" not in data else name,
                    )
                data[name] = _digest(data[name], name)
            if data.get("stamp"):
                raise ApiError(error_codes.STAMP_NEEDS_FILE, field="stamp")
        return data


class RecordBatchItem(RecordInput):
    """A record of a batch, by its digests, under the rules of POST /api/v1/records."""

    # The OpenAPI schema's item; items are validated by RecordInput itself.
    # DRF drops a field its subclass declares None; the stubs do not know that pattern.
    file = stamp = stamp_pages = None  # type: ignore[assignment]
    sha256 = serializers.CharField()
    sm3 = serializers.CharField()


class EventInput(VisibleTextSerializer, SharedFieldsSerializer):
    """A service event sent by a court's system, its text with no hidden characters."""

    event = serializers.ChoiceField(choices=ServiceEvent.Event.values)
    channel = serializers.ChoiceField(
        choices=ServiceEvent.Channel.values, required=False, allow_blank=True
    )
    addressee = serializers.CharField(max_length=200, required=False, allow_blank=True)
    contact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)
    details = serializers.DictField(required=False)


def ledger_json(row: Record | ServiceEvent, receipt: Receipt | None = None) -> dict | None:
    """Where the row's entry is in the ledger, with a proof against a published checkpoint;
    None while no published checkpoint covers it."""
    if receipt is None:
        index = ledger_index(row)
        if index is None:
            return None
        receipt = sequencer.receipt(index)
        if receipt is None:  # integrated, not yet published: like a pooled one
            return None
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
    record: Record,
    request,
    receipt: Receipt | None = None,
    events: Iterable[ServiceEvent] | None = None,
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
