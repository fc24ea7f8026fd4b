"""Public verification's metrics: how long a check takes, and each phase of a certificate.

Recorded by the process that does the work (a web worker for a digest checked in the
request, a Celery worker for a job or a certificate); portal's /metrics view adds up
every process's values when PROMETHEUS_MULTIPROC_DIR is set.
"""

from __future__ import annotations

from prometheus_client import Histogram
from prometheus_client.context_managers import Timer

VERIFICATION_SECONDS = Histogram(
    "verification_duration_seconds",
    "Time from a verification's start to its outcome (the checks against the ledger), by "
    "outcome and by where it ran: 'request' (a digest checked inline) or 'job' (Celery).",
    ["outcome", "mode"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CERTIFICATE_SECONDS = Histogram(
    "certificate_duration_seconds",
    "Time of each phase of making a certificate: 'bundle' (gathering the proofs), "
    "'render' (the PDF) and 'sign' (PAdES).",
    ["phase"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def verification_finished(outcome: str, started_at, finished_at, *, inline: bool) -> None:
    """Record one finished verification (its row's start and finish times)."""
    if started_at is None or finished_at is None:
        return
    VERIFICATION_SECONDS.labels(outcome, "request" if inline else "job").observe(
        (finished_at - started_at).total_seconds()
    )


def certificate_phase(phase: str) -> Timer:
    """A decorator timing every call of one phase of certificate making."""
    return CERTIFICATE_SECONDS.labels(phase).time()
