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
from documents.idempotency import fence
from documents.ledger import CHANNEL_NUMBERS, await_ledger, ledger_index
from documents.models import Addressee, IdempotentRequest, Record, ServiceEvent, token_digest
from documents.registration import RegistrationError
from plumbing import error_codes

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


def _check_order(record: Record, event: str, addressee: Addressee | None) -> None:
    if record.category != Record.Category.LITIGATION_DOCUMENT:
        raise RegistrationError(error_codes.NOT_SERVED, field="event")
    done = set(record.events.filter(addressee=addressee).values_list("event", flat=True))
    issued = record.events.filter(event=ServiceEvent.Event.ISSUED).exists()
    if event == ServiceEvent.Event.ISSUED and issued:
        raise RegistrationError(error_codes.ALREADY_ISSUED, field="event")
    if event == ServiceEvent.Event.SENT and not issued:
        raise RegistrationError(error_codes.SENT_BEFORE_ISSUED, field="event")
    if event in (ServiceEvent.Event.OPENED, ServiceEvent.Event.ACKNOWLEDGED) and event in done:
        raise RegistrationError(error_codes.ALREADY_RECORDED, field="event")
    if event == ServiceEvent.Event.ACKNOWLEDGED and ServiceEvent.Event.OPENED not in done:
        raise RegistrationError(error_codes.ACKNOWLEDGED_BEFORE_OPENED, field="event")


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
    claim: IdempotentRequest | None = None,
) -> ServiceEvent:
    """Record one service event and pool its ledger entry; the caller may wait for it.

    claim: the keyed court request making it (documents/idempotency.py).
    """
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW or occurred_at < record.recorded_at - CLOCK_SKEW:
        raise RegistrationError(error_codes.IMPLAUSIBLE_TIME, field="occurred_at")
    if event == ServiceEvent.Event.SENT:
        if channel not in CHANNEL_NUMBERS:
            raise RegistrationError(error_codes.MISSING_CHANNEL, field="channel")
        if not addressee_name.strip():
            raise RegistrationError(error_codes.MISSING_ADDRESSEE, field="addressee")
    if ledger_index(record) is None:
        await_ledger(record)  # an event entry points at its record's entry
    with transaction.atomic():
        fence([claim])
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
            claim=claim,
        )
        record_index = record.ledger_index
        assert record_index is not None  # awaited above
        leaf = ledger.event_leaf(row, record, record_index)
        row.submitted_leaf = leaf.encode()
        row.submission = sequencer.submit(leaf)
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
