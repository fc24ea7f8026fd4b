"""The addressee's personal service link: see the document, open it, confirm receipt.

Opening the landing page changes nothing (link previews in messaging apps fetch it);
"opened" is recorded when the document itself is fetched, "acknowledged" when the
addressee confirms with the form.
"""

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST, require_safe

from documents import codes, registration, service
from documents.models import Addressee, Record, ServiceEvent
from plumbing.bilingual import half
from plumbing.page_limits import rate_limited


def _addressee(token: str) -> Addressee:
    addressee = service.addressee_for_link(token)
    if addressee is None:
        raise Http404("unknown service link")
    return addressee


def _done(addressee: Addressee) -> set[str]:
    return set(addressee.events.values_list("event", flat=True))


def _timeline(record: Record) -> list[dict]:
    """The record's service events as the page lists them, in the reader's language."""
    language = get_language()
    return [
        {
            "occurred_at": event.occurred_at,
            "label": half(event.get_event_display(), language),
            "channel": half(event.get_channel_display(), language) if event.channel else "",
            "addressee": event.addressee.name if event.addressee else "",
        }
        for event in record.events.select_related("addressee")
    ]


@require_safe
@rate_limited("service_links")
def service_link(request: HttpRequest, token: str) -> HttpResponse:
    """The landing page of a personal service link."""
    addressee = _addressee(token)
    record = addressee.record
    done = _done(addressee)
    return render(
        request,
        "documents/service_link.html",
        {
            "token": token,
            "addressee": addressee,
            "record": record,
            "code": codes.display(record.code),
            "verification_url": registration.verification_url(record.code),
            "timeline": _timeline(record),
            "opened": ServiceEvent.Event.OPENED in done,
            "acknowledged": ServiceEvent.Event.ACKNOWLEDGED in done,
            "has_file": bool(record.file),
        },
    )


@require_safe
@rate_limited("service_links")
def service_document(request: HttpRequest, token: str) -> FileResponse:
    """The served document; the first fetch records the "opened" event."""
    addressee = _addressee(token)
    record = addressee.record
    if not record.file:
        raise Http404("no document kept for this record")
    if ServiceEvent.Event.OPENED not in _done(addressee):
        service.record_event(record, ServiceEvent.Event.OPENED, addressee=addressee)
    return FileResponse(
        record.file.open("rb"),
        filename=f"{codes.display(record.code)}.pdf",
        content_type=record.media_type or "application/octet-stream",
    )


@require_POST
@rate_limited("service_links")
def service_acknowledge(request: HttpRequest, token: str) -> HttpResponse:
    """The addressee confirms receipt; recorded once, then back to the landing page."""
    addressee = _addressee(token)
    done = _done(addressee)
    if ServiceEvent.Event.ACKNOWLEDGED not in done and ServiceEvent.Event.OPENED in done:
        service.acknowledge(addressee)
    return redirect("service-link", token=token)
