#!/usr/bin/env python
"""The ledger on PostgreSQL: integration throughput, submit-to-proof latency, proof time.

1. Integration: N leaves are pooled with COPY (untimed), then sequencer.integrate()
   runs until the pool is empty. Entries/s = entries integrated / time in batches, both
   read from the sequencer's metrics. Target: >= 10,000 entries/s.
2. Submit-to-proof: `manage.py sequencer` runs at a 1 s period while K threads loop
   sequencer.submit_and_wait(leaf) for D seconds; latency from submit to the returned
   receipt. Target: p99 < 2 s. Receipts are verified (checkpoint signature, leaf,
   inclusion proof).
3. Proofs: the log is grown to 1,000,000 entries, its checkpoint's root is re-hashed
   from the entries alone, then store.inclusion_proof() is timed at random indexes
   (the process's tile cache filling; then emptied before each proof: cold) and
   GET /api/v1/ledger/proof/inclusion through gunicorn, one request at a time. Every
   proof is verified. Target: median < 2 ms.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import sys
import threading
import time
import urllib.request

import harness
from harness import Table, note, pct

QUICK = {"entries": 20_000, "duration": 5.0, "proof_size": 60_000, "proofs": 500, "api": 50}
FULL = {"entries": 200_000, "duration": 20.0, "proof_size": 1_000_000, "proofs": 2000, "api": 300}
TARGET_RATE, TARGET_P99, TARGET_PROOF_MS = 10_000, 2.0, 2.0


def make_leaf(tag: str):
    """A plain anchor leaf for a distinct string."""
    from anchoring.digest import sm3
    from anchoring.leaf import Kind, Leaf

    content = tag.encode()
    return Leaf(Kind.ANCHOR, 1_767_225_600_000, hashlib.sha256(content).digest(), sm3(content))


def pool(prefix: str, count: int) -> None:
    """Pool `count` distinct leaves with COPY, 100,000 at a time (the fast, untimed path)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from anchoring.models import Submission
    from plumbing import bulk

    for start in range(0, count, 100_000):
        now = timezone.now()
        rows = [
            (make_leaf(f"{prefix} {i}").encode(), now)
            for i in range(start, min(count, start + 100_000))
        ]
        with transaction.atomic():
            bulk.copy(Submission, ("data", "submitted_at"), rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE anchoring_submission")


def integrate_all() -> harness.Metrics:
    """Integrate until the pool is empty; the sequencer's metrics over it."""
    from anchoring import sequencer

    before = harness.read_metrics()
    while sequencer.integrate():
        pass
    return harness.Metrics(before, harness.read_metrics())


def step_integrate(args, summary: Table) -> None:
    """1. Entries/s of integrate() over a pool filled beforehand, from its metrics."""
    from anchoring import store

    start = store.tree_size()
    pool("throughput", args.entries)
    m = integrate_all()
    entries = m.total("ledger_entries_integrated_total")
    seconds = m.total("ledger_batch_duration_seconds_sum")
    rate = entries / seconds
    table = Table(
        f"1. Integration: {args.entries:,} pooled leaves, sequencer.integrate() until empty"
    )
    table.add("log size", f"{start:,} -> {store.tree_size():,}")
    table.add("batches (metrics)", harness.batches(m))
    table.add("entries/s", f"{rate:,.0f}", f">= {TARGET_RATE:,}", rate >= TARGET_RATE)
    table.print()
    summary.add(
        "integration, entries/s", f"{rate:,.0f}", f">= {TARGET_RATE:,}", rate >= TARGET_RATE
    )


def step_latency(args, servers: harness.Servers, summary: Table) -> None:
    """2. Submit-to-receipt latency against the sequencer process, receipts verified."""
    from django.conf import settings
    from django.db import connection

    from anchoring import keys, merkle, sequencer
    from anchoring.checkpoint import open_checkpoint
    from anchoring.models import Entry

    servers.sequencer()
    sequencer.submit_and_wait(make_leaf("warm-up"), timeout=120)
    samples, errors, lock = [], [], threading.Lock()
    end = time.perf_counter() + args.duration

    def submitter(k: int) -> None:
        i = 0
        try:
            while time.perf_counter() < end:
                entry = make_leaf(f"latency {k} {i}")
                data = entry.encode()
                wall, t0 = time.time(), time.perf_counter()
                receipt = sequencer.submit_and_wait(entry)
                with lock:
                    samples.append((time.perf_counter() - t0, wall, data, receipt))
                i += 1
        except Exception as exc:  # a timeout is a result too
            errors.append(exc)
        finally:
            connection.close()

    before = harness.read_metrics()
    threads = [threading.Thread(target=submitter, args=(k,)) for k in range(args.submitters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = harness.Metrics(before, harness.read_metrics())

    verifier = keys.verifier()
    integrated = dict(
        Entry.objects.filter(index__in=[s[3].index for s in samples]).values_list(
            "index", "integrated_at"
        )
    )
    stored = dict(
        Entry.objects.filter(index__in=[s[3].index for s in samples]).values_list("index", "data")
    )
    for _, _, data, r in samples:
        cp = open_checkpoint(r.checkpoint, verifier, origin=settings.LEDGER_ORIGIN)
        assert cp.size == r.tree_size and bytes(stored[r.index]) == data
        merkle.verify_inclusion(
            merkle.leaf_hash(data), r.index, r.tree_size, r.inclusion_proof, cp.root_hash
        )
    latency = [s[0] for s in samples]
    queued = [integrated[r.index].timestamp() - wall for _, wall, _, r in samples]
    p99 = pct(latency, 99)
    ok = not errors and p99 < TARGET_P99
    table = Table(
        f"2. Submit-to-proof: {args.submitters} submitters x {args.duration:g} s, "
        f"manage.py sequencer, period {settings.LEDGER_BATCH_PERIOD:g} s"
    )
    table.add("receipts, errors", f"{len(samples):,}, {len(errors)}")
    table.add("latency p50 / p90", f"{pct(latency, 50):.3f} / {pct(latency, 90):.3f} s")
    table.add("latency p99", f"{p99:.3f} s", f"< {TARGET_P99:g} s", ok)
    table.add(
        "  queued until its batch began, p50 / p99",
        f"{pct(queued, 50):.3f} / {pct(queued, 99):.3f} s",
    )
    table.add("batches (metrics)", harness.batches(m))
    table.add("receipts verified", f"{len(samples):,}, all valid")
    table.print()
    if errors:
        print(f"  first error: {errors[0]!r}")
    summary.add("submit-to-proof p99", f"{p99:.3f} s", f"< {TARGET_P99:g} s", ok)
    servers.stop("sequencer")


def step_proofs(args, servers: harness.Servers, summary: Table) -> None:
    """3. Inclusion proof time at --proof-size, warm and cold, and through the API."""
    import json

    from anchoring import merkle, store
    from anchoring.models import Checkpoint, Entry

    size = args.proof_size
    if store.tree_size() < size:
        note(f"growing the log {store.tree_size():,} -> {size:,} (COPY, integrate)")
        pool("top-up", size - store.tree_size())
        integrate_all()
    root = bytes(Checkpoint.objects.get(tree_size=size).root_hash)
    hashes = (
        merkle.leaf_hash(bytes(d))
        for d in Entry.objects.filter(index__lt=size)
        .order_by("index")
        .values_list("data", flat=True)
        .iterator(chunk_size=20_000)
    )
    assert merkle.root(list(hashes)) == root, "the checkpoint's root is not the entries' root"
    note(f"the checkpoint's root at {size:,} equals the root re-hashed from the entries")

    rng = random.Random(args.seed)
    leaves: dict[int, bytes] = {}

    def timed(indexes: list[int], cold: bool) -> list[float]:
        leaves.update(Entry.objects.filter(index__in=indexes).values_list("index", "data"))
        times = []
        for i in indexes:
            if cold:
                store.forget_tiles()
            t0 = time.perf_counter()
            proof = store.inclusion_proof(i, size)
            times.append((time.perf_counter() - t0) * 1000)
            merkle.verify_inclusion(merkle.leaf_hash(bytes(leaves[i])), i, size, proof, root)
        return times

    store.forget_tiles()
    indexes = [rng.randrange(size) for _ in range(args.proofs)]
    timed(indexes[:20], cold=False)
    warm = timed(indexes, cold=False)
    cold = timed([rng.randrange(size) for _ in range(min(500, args.proofs))], cold=True)

    url = servers.gunicorn(workers=1)
    api = []
    for i in indexes[: args.api]:
        t0 = time.perf_counter()
        with urllib.request.urlopen(
            f"{url}/api/v1/ledger/proof/inclusion?index={i}&size={size}"
        ) as answer:
            body = json.loads(answer.read())
        api.append((time.perf_counter() - t0) * 1000)
        proof = [bytes.fromhex(h) for h in body["hashes"]]
        merkle.verify_inclusion(merkle.leaf_hash(bytes(leaves[i])), i, size, proof, root)

    median, cold_median = statistics.median(warm), statistics.median(cold)
    table = Table(
        f"3. Inclusion proofs at size {size:,}: store.inclusion_proof(), every proof verified"
    )
    table.add(
        f"median ({len(warm):,} random indexes, tile cache filling)",
        f"{median:.3f} ms",
        f"< {TARGET_PROOF_MS:g} ms",
        median < TARGET_PROOF_MS,
    )
    table.add(
        "  p90 / p99 / max", f"{pct(warm, 90):.3f} / {pct(warm, 99):.3f} / {max(warm):.3f} ms"
    )
    table.add(
        f"cold cache, median ({len(cold)} proofs)",
        f"{cold_median:.3f} ms",
        f"< {TARGET_PROOF_MS:g} ms",
        cold_median < TARGET_PROOF_MS,
    )
    table.add("  p99", f"{pct(cold, 99):.3f} ms")
    table.add(
        f"API through gunicorn, one at a time ({len(api)}): median / p99",
        f"{statistics.median(api):.3f} / {pct(api, 99):.3f} ms",
    )
    table.print()
    summary.add(
        f"inclusion proof at {size:,}, median",
        f"{median:.3f} ms",
        f"< {TARGET_PROOF_MS:g} ms",
        median < TARGET_PROOF_MS,
    )
    summary.add(
        "  cold tile cache, median",
        f"{cold_median:.3f} ms",
        f"< {TARGET_PROOF_MS:g} ms",
        cold_median < TARGET_PROOF_MS,
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("ledger", __doc__)
    p.add_argument("--steps", default="1,2,3", help="which measures, comma-separated")
    p.add_argument("--entries", type=int, help="leaves pooled for step 1 [200000]")
    p.add_argument("--submitters", type=int, default=32, help="threads in step 2")
    p.add_argument("--duration", type=float, help="seconds step 2's submitters loop [20]")
    p.add_argument("--period", default="1", help="LEDGER_BATCH_PERIOD, seconds")
    p.add_argument("--proof-size", type=int, help="tree size of step 3's proofs [1000000]")
    p.add_argument("--proofs", type=int, help="random indexes timed [2000]")
    p.add_argument("--api", type=int, help="API requests timed [300]")
    args = harness.parse(p, QUICK, FULL, argv)
    started = time.perf_counter()
    harness.prepare(args, LEDGER_BATCH_PERIOD=args.period)
    harness.describe("Ledger benchmark", args)
    from anchoring import keys, sequencer

    keys.signer()  # the key exists before another process reads it
    sequencer.integrate()  # the empty log's checkpoint
    summary = Table("Summary against the targets")
    with harness.Servers() as servers:
        if 1 in harness.steps(args.steps):
            step_integrate(args, summary)
        if 2 in harness.steps(args.steps):
            step_latency(args, servers, summary)
        if 3 in harness.steps(args.steps):
            step_proofs(args, servers, summary)
    summary.print()
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
