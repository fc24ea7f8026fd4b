"""A record's public face: what anyone holding its code may see, names and numbers masked.

Judges see the full record; everyone else sees the court, category, title, time
recorded, the case number and party names masked, and the service timeline.
"""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects

from documents import codes
from documents.models import Record, ServiceEvent


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧**娜, John Smith -> J*** S****."""
    name = name.strip()
    if not name:
        return ""
    if " " in name:
        return " ".join(mask_name(part) for part in name.split())
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1)
    if name.isascii():
        return name[0] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_case_number(number: str) -> str:
    """Keep the year and court part, hide the running number: （2026）京0105民初12345号 ->
    （2026）京0105民初***45号."""
    digits = [i for i, c in enumerate(number) if c.isdigit()]
    if len(digits) < 3:
        return number
    # The last run of digits is the case's own number; show only its last two digits.
    end = digits[-1]
    start = end
    while start > 0 and number[start - 1].isdigit():
        start -= 1
    run = number[start : end + 1]
    if len(run) <= 2:
        return number
    return number[:start] + "*" * (len(run) - 2) + run[-2:] + number[end + 1 :]


# A record's events with their addressees; prefetch_related_objects skips a record whose
# events are loaded already, so verification (flow.py) and its answer read them once.
EVENTS = Prefetch("events", queryset=ServiceEvent.objects.select_related("addressee"))


def service_events(record: Record) -> list[ServiceEvent]:
    """The record's service events, read at most once per instance.

    Only a litigation document is served (service.record_event refuses the others, and
    the addressee's link exists only for one), so any other record has none: no query.
    """
    if record.category != Record.Category.LITIGATION_DOCUMENT:
        return []
    prefetch_related_objects([record], EVENTS)
    return list(record.events.all())


def _timeline(record: Record, full: bool) -> list[dict]:
    timeline = []
    for event in service_events(record):
        name = event.addressee.name if event.addressee else ""
        timeline.append(
            {
                "event": event.event,
                "label": event.get_event_display(),
                "channel": event.channel or None,
                "channel_label": event.get_channel_display() if event.channel else None,
                "addressee": (name if full else mask_name(name)) or None,
                "occurred_at": event.occurred_at,
                "ledger_index": event.ledger_index,
            }
        )
    return timeline


def face(record: Record, *, full: bool = False) -> dict:
    """The record as shown on its page and in verification results; `full` for judges."""
    return {
        "code": codes.display(record.code),
        "court": {
            "code": record.court.code,
            "name_zh": record.court.name_zh,
            "name_en": record.court.name_en,
        },
        "category": record.category,
        "category_label": record.get_category_display(),
        "title": record.title,
        "recorded_at": record.recorded_at,
        "case_number": record.case_number if full else mask_case_number(record.case_number),
        "parties": record.parties if full else [mask_name(p) for p in record.parties],
        "media_type": record.media_type,
        "size": record.size,
        "download": record.allow_download and bool(record.file),
        "timeline": _timeline(record, full),
    }


def find(code_text: str) -> Record | None:
    """The record a typed or scanned code names, or None (CodeError for malformed codes)."""
    code = codes.normalize(code_text)
    return Record.objects.select_related("court").filter(code=code).first()
