"""GET /metrics: the portal's metrics in Prometheus' text format.

The metrics are defined next to what they measure (anchoring/metrics.py,
documents/metrics.py, verification/metrics.py) and updated by the process doing the work.
gunicorn runs several workers and the sequencer and Celery run apart, so a deployment sets
PROMETHEUS_MULTIPROC_DIR, in every one of those processes, to one directory that is
empty when they start: prometheus_client then keeps each process's values in files there
and this view adds them up, whichever worker answers. Without it a scrape sees the
answering process alone. Gauges of the database (the ledger's pool) are read at scrape
time. /metrics is for the operators' Prometheus: the proxy should not serve it publicly.
"""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

import documents.metrics  # noqa: F401 (defines its metrics in this process)
import verification.metrics  # noqa: F401
from anchoring.metrics import LedgerCollector

_scrape_time = CollectorRegistry()
_scrape_time.register(LedgerCollector())


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Every process's counters and histograms, and the gauges read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    body = generate_latest(registry) + generate_latest(_scrape_time)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
