"""The court API's metric: how long a registration request takes, as the court sees it.

Timed around the view, so it includes the wait for the ledger batch (up to
LEDGER_BATCH_PERIOD) but not the token check and routing before it. Recorded by the web
worker that answered; portal's /metrics view adds up every worker's values when
PROMETHEUS_MULTIPROC_DIR is set.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from prometheus_client import Histogram

REGISTRATION_SECONDS = Histogram(
    "court_registration_duration_seconds",
    "Time of a court's registration request in its view, the wait for the ledger batch "
    "included, by endpoint ('record' or 'batch') and answer status.",
    ["endpoint", "status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0),
)


def timed_registration(endpoint: str) -> Callable[[Callable], Callable]:
    """Decorate a view method: observe its duration under `endpoint` and the answer status
    (an exception's `status_code`, as DRF will answer it, or 500)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def timed(*args, **kwargs):
            started, status = time.perf_counter(), 500
            try:
                response = view(*args, **kwargs)
                status = response.status_code
                return response
            except Exception as exc:
                status = getattr(exc, "status_code", 500)
                raise
            finally:
                REGISTRATION_SECONDS.labels(endpoint, str(status)).observe(
                    time.perf_counter() - started
                )

        return timed

    return decorate
