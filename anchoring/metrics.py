"""The ledger's metrics: the batches the sequencer integrates, and the pool at scrape time.

Batch figures are recorded by the process that integrates (`manage.py sequencer`, the
embedded default's thread, a benchmark). With PROMETHEUS_MULTIPROC_DIR set,
prometheus_client keeps each process's values in files there and portal's /metrics view
adds them up. The pool and tree sizes are read from the database when /metrics is
scraped, so that no process has to keep them current.

This module imports no other app and not portal, like the rest of anchoring.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

BATCH_SECONDS = Histogram(
    "ledger_batch_duration_seconds",
    "Time to integrate one batch: read the pool, hash, write entries, tiles and the signed "
    "checkpoint, commit.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_ENTRIES = Histogram(
    "ledger_batch_entries",
    "Entries added to the log by one batch.",
    buckets=(1, 4, 16, 64, 256, 1024, 4096, 16384, 65536),
)
ENTRIES_INTEGRATED = Counter("ledger_entries_integrated", "Entries integrated into the log.")
PUBLICATION_DELAY = Histogram(
    "ledger_publication_delay_seconds",
    "From a checkpoint's signature to its publication (the witnesses' round trip).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WITNESS_ANSWERS = Counter(
    "ledger_witness_answers",
    "Answers of the log's witnesses to add-checkpoint, by witness and HTTP status "
    "('none': no answer).",
    ["witness", "status"],
)


def published(size: int, signed_at: datetime.datetime) -> None:
    """A checkpoint was published: how long after it was signed."""
    delay = (datetime.datetime.now(datetime.UTC) - signed_at).total_seconds()
    PUBLICATION_DELAY.observe(max(0.0, delay))


def witness_answer(name: str, status: int | None) -> None:
    """Count one witness's answer."""
    WITNESS_ANSWERS.labels(witness=name, status=str(status or "none")).inc()


def timed_batch(integrate: Callable[[int], int], batch_size: int) -> int:
    """Run one batch, `integrate(batch_size)`, and record it if it added entries.

    The sequencer's loop calls integrate() every period whether or not anything is
    pooled; those empty calls are not batches, and counting them would bury the real
    batch times under one no-op per period.
    """
    started = time.perf_counter()
    added = integrate(batch_size)
    if added:
        BATCH_SECONDS.observe(time.perf_counter() - started)
        BATCH_ENTRIES.observe(added)
        ENTRIES_INTEGRATED.inc(added)
    return added


class LedgerCollector:
    """The pool and tree sizes, read from the database at each scrape (two small queries)."""

    def collect(self) -> Iterator[Metric]:
        from anchoring import store
        from anchoring.models import Submission

        yield GaugeMetricFamily(
            "ledger_pool_size",
            "Leaves pooled and waiting for a batch.",
            value=Submission.objects.count(),
        )
        yield GaugeMetricFamily(
            "ledger_tree_size",
            "Entries under the newest published checkpoint.",
            value=store.tree_size(),
        )
