"""GET /metrics: the portal's metrics in Prometheus' text format.

The metrics are defined next to what they measure (anchoring/metrics.py,
documents/metrics.py, verification/metrics.py) and updated by the process doing the work.
gunicorn runs several workers and the sequencer and Celery run apart, so a deployment sets
PROMETHEUS_MULTIPROC_DIR, in every one of those processes, to one directory that is
empty when they start: prometheus_client then keeps each process's values in files there
and this view adds them up, whichever worker answers. Without it a scrape sees the
answering process alone. Gauges of the database (the ledger's pool) are read at scrape
time. /metrics is for the operators' Prometheus, not the public: it answers a request
with `Authorization: Bearer <METRICS_TOKEN>`, or, with no token set, one sent from this
host straight to the portal (a Prometheus or an agent beside it), never one that came
through a proxy (plumbing/clients.py); anything else is a 404.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

import documents.metrics  # noqa: F401 (defines its metrics in this process)
import verification.metrics  # noqa: F401
from anchoring.metrics import LedgerCollector
from plumbing import clients

_scrape_time = CollectorRegistry()
_scrape_time.register(LedgerCollector())


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Every process's counters and histograms, and the gauges read now."""
    if not _allowed(request):
        raise Http404("no such page")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_scrape_time)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    # Not by REMOTE_ADDR alone: behind a proxy on this host every request comes from the
    # loopback address, so a request a proxy forwarded is never local.
    return clients.client(request).is_local
