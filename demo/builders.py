"""Builders of court data, shared by the demo seeding, the tests and the benchmarks: a
record made from a file and written to the ledger, a judgment served to an addressee,
and the demonstration documents themselves. Every file they make is invented."""

from __future__ import annotations

import io
from collections.abc import Callable

from django.template.loader import render_to_string

from anchoring.digest import digests
from documents import registration, service
from documents.ledger import await_ledger
from documents.models import Addressee, Court, Record, ServiceEvent
from verification.models import Verification
from verification.tasks import verify


def _nothing() -> None:
    return None


def judgment_pdf(court: Court, case_number: str, kind: str, body: list[str]) -> bytes:
    """A two-page A4 demonstration document rendered with WeasyPrint."""
    from weasyprint import HTML

    html = render_to_string(
        "demo/judgment.html",
        {"court": court, "case_number": case_number, "kind": kind, "body": body},
    )
    return HTML(string=html).write_pdf()


def record_file(
    court: Court,
    category: str,
    title: str,
    content: bytes,
    filename: str,
    *,
    case_number: str = "",
    parties: list[str] | None = None,
    integrate: Callable[[], object] = _nothing,
    **options,
) -> Record:
    """Record a file as a court would and wait for its ledger entry. `integrate` runs
    before the wait where no sequencer runs (a benchmark integrates by hand)."""
    record = registration.register(
        registration.NewRecord(
            court=court,
            category=category,
            title=title,
            case_number=case_number,
            parties=parties or [],
            file=io.BytesIO(content),
            filename=filename,
            **options,
        )
    )
    integrate()
    await_ledger(record)
    return record


def serve(
    judgment: Record,
    addressee: str,
    *,
    channel: str = "sms",
    contact: str = "",
    integrate: Callable[[], object] = _nothing,
) -> Addressee:
    """The whole service of a judgment on one addressee, each step on the ledger: issued
    (once per judgment), sent, opened and acknowledged."""
    if not judgment.events.filter(event=ServiceEvent.Event.ISSUED).exists():
        service.record_event(judgment, ServiceEvent.Event.ISSUED)
    sent = service.record_event(
        judgment,
        ServiceEvent.Event.SENT,
        channel=channel,
        addressee_name=addressee,
        contact=contact,
    )
    served = sent.addressee
    assert served is not None  # a "sent" event names its addressee
    service.record_event(judgment, ServiceEvent.Event.OPENED, addressee=served)
    service.acknowledge(served)
    integrate()
    for event in judgment.events.filter(ledger_index__isnull=True):
        await_ledger(event)
    return served


def verify_upload(data: bytes, filename: str) -> Verification:
    """A verification of this file as the upload form makes it, its job run in this process."""
    sha, sm = digests(data)
    v = Verification.objects.create(
        source=Verification.Source.UPLOAD,
        sha256=sha.hex(),
        sm3=sm.hex(),
        size=len(data),
        filename=filename,
    )
    verify(v.pk)
    v.refresh_from_db()
    return v
