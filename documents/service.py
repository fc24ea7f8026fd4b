"""Service (送达) of litigation documents: the provable timeline of issued, sent, opened
and acknowledged, each event its own ledger entry.

Courts record "issued" and "sent" through the API; the portal records "opened" and
"acknowledged" itself when the addressee uses their personal service link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from anchoring import sequencer
from documents import entries, ledger
from documents.ledger import CHANNEL_NUMBERS, await_ledger, ledger_index
from documents.models import Addressee, Record, ServiceEvent, token_digest
from documents.registration import RegistrationError

COURT_EVENTS = {ServiceEvent.Event.ISSUED, ServiceEvent.Event.SENT}
# A court's clock may run a little ahead of ours; more than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


def link_token(addressee: Addressee) -> str:
    """The addressee's personal link token: derived, so the same link can be shown again."""
    mac = hmac.new(settings.SECRET_KEY.encode(), b"service-link:" + bytes(addressee.salt), "sha256")
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode()


def service_link(addressee: Addressee) -> str:
    """The addressee's personal service URL."""
    return f"{settings.PUBLIC_BASE_URL}/s/{link_token(addressee)}"


def addressee_for_link(token: str) -> Addressee | None:
    """The addressee a personal link belongs to, if any."""
    return (
        Addressee.objects.select_related("record__court")
        .filter(link_digest=token_digest(token))
        .first()
    )


def _addressee(record: Record, name: str, contact: str) -> Addressee:
    found = Addressee.objects.filter(record=record, name=name, contact=contact).first()
    if found:
        return found
    addressee = Addressee(record=record, name=name, contact=contact)
    addressee.salt = secrets.token_bytes(entries.SALT_SIZE)
    addressee.link_digest = token_digest(link_token(addressee))
    addressee.save()
    return addressee


def _refuse(field: str, code: str, zh: str, en: str) -> RegistrationError:
    return RegistrationError(field, code, zh, en)


def _check_order(record: Record, event: str, addressee: Addressee | None) -> None:
    if record.category != Record.Category.LITIGATION_DOCUMENT:
        raise _refuse(
            "event",
            "not_served",
            "只有诉讼文书才有送达记录。",
            "Only litigation documents are served; this record is not one.",
        )
    done = set(record.events.filter(addressee=addressee).values_list("event", flat=True))
    issued = record.events.filter(event=ServiceEvent.Event.ISSUED).exists()
    if event == ServiceEvent.Event.ISSUED and issued:
        raise _refuse(
            "event", "already_recorded", "该文书已记录签发。", "This document is already issued."
        )
    if event == ServiceEvent.Event.SENT and not issued:
        raise _refuse(
            "event",
            "out_of_order",
            "请先记录签发，再记录送出。",
            "Record the document as issued before recording it as sent.",
        )
    if event in (ServiceEvent.Event.OPENED, ServiceEvent.Event.ACKNOWLEDGED) and event in done:
        raise _refuse(
            "event", "already_recorded", "该事件已记录。", "This event is already recorded."
        )
    if event == ServiceEvent.Event.ACKNOWLEDGED and ServiceEvent.Event.OPENED not in done:
        raise _refuse(
            "event",
            "out_of_order",
            "请先打开文书，再确认签收。",
            "Open the document before acknowledging receipt.",
        )


def record_event(
    record: Record,
    event: str,
    *,
    channel: str = "",
    addressee_name: str = "",
    contact: str = "",
    addressee: Addressee | None = None,
    details: dict | None = None,
    occurred_at: datetime | None = None,
) -> ServiceEvent:
    """Record one service event and pool its ledger entry; the caller may wait for it."""
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW or occurred_at < record.recorded_at - CLOCK_SKEW:
        raise _refuse(
            "occurred_at",
            "implausible_time",
            "事件时间不能早于文书登记时间或晚于当前时间。",
            "The event time cannot be before the record was made or in the future.",
        )
    if event == ServiceEvent.Event.SENT:
        if channel not in CHANNEL_NUMBERS:
            raise _refuse(
                "channel",
                "invalid_choice",
                "请选择送达方式。",
                "Give the channel: platform, sms, email or post.",
            )
        if not addressee_name.strip():
            raise _refuse("addressee", "required", "请填写受送达人。", "Name the addressee.")
    if ledger_index(record) is None:
        await_ledger(record)  # an event entry points at its record's entry
    with transaction.atomic():
        Record.objects.select_for_update().get(pk=record.pk)  # one event at a time per record
        if event == ServiceEvent.Event.SENT:
            addressee = _addressee(record, addressee_name.strip(), contact.strip())
        _check_order(record, event, addressee)
        row = ServiceEvent(
            record=record,
            event=event,
            channel=channel,
            addressee=addressee,
            details=details or {},
            details_salt=secrets.token_bytes(entries.SALT_SIZE),
            occurred_at=occurred_at,
            recorded_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
        )
        row.submission = sequencer.submit(ledger.event_leaf(row, record, record.ledger_index))
        row.save()
    return row


def receipt_text(addressee: Addressee, at: datetime) -> str:
    """The statement an addressee confirms; its digest goes into the acknowledged event."""
    record = addressee.record
    return (
        f"{addressee.name} 确认于 {at.isoformat()} 收到 {record.court.name_zh} 送达的"
        f"《{record.title}》（{record.case_number}，核验码 {record.code}）。\n"
        f'{addressee.name} acknowledges receipt at {at.isoformat()} of "{record.title}" '
        f"({record.case_number}, record code {record.code}) served by {record.court.name_en}."
    )


def acknowledge(addressee: Addressee) -> ServiceEvent:
    """Record the addressee's confirmation of receipt, with the digest of what they confirmed."""
    now = timezone.now()
    text = receipt_text(addressee, now)
    return record_event(
        addressee.record,
        ServiceEvent.Event.ACKNOWLEDGED,
        addressee=addressee,
        details={"receipt_sha256": hashlib.sha256(text.encode()).hexdigest(), "receipt": text},
        occurred_at=now,
    )
