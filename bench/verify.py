#!/usr/bin/env python
"""Public verification: verifications by digest per second and their latency, a 1 GiB
upload's throughput and memory, and GET /health as a ceiling.

gunicorn (2 x gthread 8 threads), a Celery worker (prefork x 4) on Redis and
`manage.py sequencer` serve a ledger of --records court records and --anchors anchors,
prepared untimed. A verification is POST /api/v1/verifications {"sha256"} (202; a digest
is checked in the request, so the answer is usually done already), then a GET every
50 ms until it is done; latency runs from the POST to the answer that says done. 90% of
the digests are recorded ones, the rest random.

  1. Closed loop, 16, 32 and 64 clients: completed verifications/s, the best of the three.
     Target: >= 200/s. Open loop at 100/s offered: p99 latency from each scheduled start,
     a verification not done after 60 s counting as the slowest. Target: < 500 ms.
  2. Upload: a 1 GiB file POSTed as multipart, streamed from disk by aiohttp. MB/s
     (10^6 bytes) and the receiving worker's peak memory growth (VmHWM reset before).
     Targets: >= 250 MB/s, < 64 MiB.
  3. GET /health, 16 clients: requests/s (no target).

A sample of results is checked: a recorded digest "verified" with its inclusion proof
re-verified against the checkpoint row, a random one "not_found". A full run first waits
for the machine to be quiet (the 1-minute load average below 1.5 for 30 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import MiB, Table, note, pct

QUICK = {"records": 200, "anchors": 300, "clients": "32", "warmup": 1.0, "duration": 5.0}
QUICK |= {"upload_size": 256 * MiB, "uploads": 1, "give_up": 5.0, "check": 100}
FULL = {"records": 1000, "anchors": 1000, "clients": "16,32,64", "warmup": 5.0}
FULL |= {"duration": 20.0, "upload_size": 1 << 30, "uploads": 3, "give_up": 60.0, "check": 300}
TARGET_RATE, TARGET_P99, TARGET_UPLOAD, TARGET_MEMORY = 200, 0.5, 250, 64 * MiB
API = "/api/v1/verifications"


def prepare_ledger(args) -> list[tuple[str, int, bytes, str | None]]:
    """Register court records and pool anchors, integrate them all; per entry: its
    SHA-256, index, leaf and record code (None for an anchor)."""
    from anchoring import keys, sequencer
    from anchoring.digest import digests
    from anchoring.leaf import Kind, Leaf
    from anchoring.models import Entry
    from documents.models import Court, Record
    from documents.registration import NewRecord, register

    keys.signer()
    sequencer.integrate()
    rng = random.Random(args.seed)
    court = Court.objects.create(code="BENCH02", name_zh="基准核验法院", name_en="Bench Court")
    categories = list(Record.Category.values)
    for i in range(args.records):
        sha, sm = digests(rng.randbytes(64))
        fields = {"title": f"Bench record {i}", "case_number": f"(2026)京0105民初{i}号"}
        category = categories[i % len(categories)]
        register(
            NewRecord(
                court=court, category=category, parties=["张三"], sha256=sha, sm3=sm, **fields
            )
        )
    anchors = [
        Leaf(Kind.ANCHOR, 1_767_225_600_000, *digests(rng.randbytes(64)))
        for _ in range(args.anchors)
    ]
    sequencer.submit_many(anchors)
    while sequencer.integrate():
        pass
    codes = dict(Record.objects.values_list("sha256", "code"))
    rows = Entry.objects.order_by("index").values_list("sha256", "index", "data")
    return [(bytes(s).hex(), i, bytes(d), codes.get(bytes(s).hex())) for s, i, d in rows]


async def verify(session, ctx: dict, k: int, i: int):
    """One verification by digest, polled until done; tag: (entry number or -1, digest)."""
    rng = random.Random(f"{ctx['seed']} {k} {i}")
    if rng.random() < 0.9:
        j = rng.randrange(len(ctx["digests"]))
        sha = ctx["digests"][j]
    else:
        j, sha = -1, rng.randbytes(32).hex()
    start = time.monotonic()
    async with session.post(ctx["url"] + API, json={"sha256": sha}) as answer:
        status, body = answer.status, await answer.read()
    while status in (200, 202) and json.loads(body)["status"] != "done":
        if time.monotonic() - start > ctx["give_up"]:
            raise TimeoutError(f"not done after {ctx['give_up']:g} s")
        await asyncio.sleep(0.05)
        async with session.get(f"{ctx['url']}{API}/{json.loads(body)['id']}") as answer:
            status, body = answer.status, await answer.read()
    if status not in (200, 202):
        raise RuntimeError(f"answered {status}")
    return status, body, (j, sha)


def check(args, ledger: list, results: list) -> int:
    """Check a sample of finished verifications against the ledger; return how many."""
    from anchoring import merkle
    from anchoring.models import Checkpoint

    done = [r for r in results if r.error is None]
    sample = random.Random(args.seed).sample(done, min(len(done), args.check))
    for r in sample:
        doc, (j, sha) = json.loads(r.body), r.tag
        steps = {s["name"]: s for s in doc["steps"]}
        assert doc["status"] == "done" and doc["sha256"] == sha, doc
        if j < 0:
            assert doc["outcome"] == "not_found" and "inclusion" not in steps, doc
            continue
        _, index, data, code = ledger[j]
        assert doc["outcome"] == "verified" and doc["ledger_index"] == index, doc
        for name in ("digest", "lookup", "leaf", "checkpoint", "inclusion", "consistency"):
            assert steps[name]["status"] == "passed", (name, doc)
        detail = steps["inclusion"]["detail"]
        root = bytes(Checkpoint.objects.get(tree_size=detail["tree_size"]).root_hash)
        proof = [bytes.fromhex(h) for h in detail["proof"]]
        merkle.verify_inclusion(merkle.leaf_hash(data), index, detail["tree_size"], proof, root)
        assert (doc["record"] or {}).get("code", "").replace("-", "") == (code or ""), doc
    return len(sample)


def settle() -> None:
    """Wait (at most a minute) for queued verifications, so none spills into the next run."""
    from verification.models import Verification

    deadline = time.monotonic() + 60
    while Verification.objects.exclude(status="done").exists() and time.monotonic() < deadline:
        time.sleep(0.5)


def run(args, ctx, groups, ledger, *, clients: int = 0, rate: float = 0.0) -> dict:
    """A closed loop of `clients` or an open loop at `rate`: its table and figures."""
    settle()
    window = harness.load(
        verify,
        ctx,
        groups,
        clients=clients,
        rate=rate,
        warmup=args.warmup,
        duration=args.duration,
        timeout=args.give_up,
    )
    started = window.started()
    done = [r for r in window.results if r.error is None and window.start <= r.end < window.end]
    failed = [r for r in started if r.error]
    latency = [r.end - r.start for r in started if r.error is None]
    p99 = pct(latency + [float("inf")] * len(failed), 99)
    rate_done = len(done) / window.duration
    loop = f"open loop, {rate:g}/s offered" if rate else f"closed loop, {clients} clients"
    table = Table(f"1. Verifications by digest, {loop} x {window.duration:g} s, {ctx['server']}")
    table.add(
        "completed verifications/s",
        f"{rate_done:,.1f}",
        "" if rate else f">= {TARGET_RATE}",
        None if rate else rate_done >= TARGET_RATE,
    )
    table.add("started in the window, failed", f"{len(started):,}, {len(failed):,}")
    for error in sorted({r.error for r in failed})[:3]:
        table.add("  failure", error[:70])
    table.add(
        "latency p50 / p90", f"{pct(latency, 50) * 1000:.1f} / {pct(latency, 90) * 1000:.1f} ms"
    )
    table.add(
        "latency p99 (failures slowest)",
        f"{p99 * 1000:.1f} ms",
        f"< {TARGET_P99 * 1000:g} ms" if rate else "",
        p99 < TARGET_P99 if rate else None,
    )
    m = window.metrics
    for outcome in ("verified", "not_found"):
        table.add(
            f"  check in the server (metrics), {outcome}: mean",
            f"{m.mean('verification_duration_seconds', outcome=outcome) * 1000:.2f} ms",
        )
    table.cpu(window.cpu, len(done), "verification", window.duration)
    table.add("results checked, all as expected", f"{check(args, ledger, window.results):,}")
    table.print()
    return {"rate": rate_done, "p50": pct(latency, 50), "p99": p99}


def upload_step(args, url: str, workers: list[int], summary: Table) -> None:
    """POST a file of --upload-size through aiohttp, streamed from disk; speed and memory."""
    import aiohttp
    import aiohttp.payload

    from anchoring.digest import new_sm3
    from verification.intake import _ParallelDigests

    block = random.Random(args.seed).randbytes(64 * MiB)
    sha, sm, parallel = hashlib.sha256(), new_sm3(), _ParallelDigests()
    with tempfile.NamedTemporaryFile(prefix="bench-upload-", suffix=".bin") as f:
        for offset in range(0, args.upload_size, len(block)):
            piece = block[: min(len(block), args.upload_size - offset)]
            f.write(piece)
            sha.update(piece)
            sm.update(piece)
        f.flush()
        t0 = time.perf_counter()  # the upload handler's digests, in this process
        for offset in range(0, args.upload_size, MiB):
            parallel.update(block[offset % len(block) : offset % len(block) + MiB])
        parallel.finish()
        in_process = args.upload_size / (time.perf_counter() - t0) / 1e6

        # aiohttp reads a file 64 KiB per hop to its thread pool; in 1 MiB chunks the client
        # takes less of the two cores it shares with the server.
        aiohttp.payload.DEFAULT_CHUNK_SIZE = MiB

        async def post(content) -> tuple[int, bytes]:
            """POST a file object (streamed) or bytes as the multipart field `file`."""
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
                form = aiohttp.FormData()
                form.add_field("file", content, filename="bench.bin")
                async with session.post(url + API, data=form) as answer:
                    return answer.status, await answer.read()

        asyncio.run(post(block[: 8 * MiB]))  # untimed: the workers' first upload is slower
        table = Table(
            f"2. Upload of {args.upload_size / MiB:g} MiB, POST {API}, aiohttp streaming from disk"
        )
        speeds, growths = [], []
        for n in range(args.uploads):
            rss = {pid: _status(pid)["VmRSS"] for pid in workers}
            for pid in workers:
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            cpu = {pid: harness.cpu_seconds(pid) for pid in workers}
            with open(f.name, "rb") as file:
                t0 = time.perf_counter()
                status, body = asyncio.run(post(file))
                seconds = time.perf_counter() - t0
            assert status == 202, (status, body[:300])
            doc = json.loads(body)
            assert (doc["sha256"], doc["sm3"]) == (sha.hexdigest(), sm.digest().hex()), doc
            pid = max(workers, key=lambda p: harness.cpu_seconds(p) - cpu[p])  # the receiver
            growths.append(_status(pid)["VmHWM"] - rss[pid])
            speeds.append(args.upload_size / seconds / 1e6)
            table.add(
                f"upload {n + 1}",
                f"{speeds[-1]:,.1f} MB/s, peak growth +{growths[-1] / MiB:.1f} MiB",
            )
    best = max(speeds)
    table.add("best upload", f"{best:,.1f} MB/s", f">= {TARGET_UPLOAD} MB/s", best >= TARGET_UPLOAD)
    table.add(
        "largest peak growth",
        f"{max(growths) / MiB:.1f} MiB",
        f"< {TARGET_MEMORY // MiB} MiB",
        max(growths) < TARGET_MEMORY,
    )
    table.add("the upload handler's digests in this process", f"{in_process:,.1f} MB/s")
    table.print()
    summary.add(
        "upload, best (median)",
        f"{best:,.1f} ({statistics.median(speeds):,.1f}) MB/s",
        f">= {TARGET_UPLOAD} MB/s",
        best >= TARGET_UPLOAD,
    )
    summary.add(
        "upload, peak memory growth",
        f"{max(growths) / MiB:.1f} MiB",
        f"< {TARGET_MEMORY // MiB} MiB",
        max(growths) < TARGET_MEMORY,
    )


def _status(pid: int) -> dict[str, int]:
    """A process's VmRSS and VmHWM, in bytes."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        k: int(v.split()[0]) * 1024
        for k, _, v in (x.partition(":") for x in lines)
        if k in ("VmRSS", "VmHWM")
    }


async def health(session, ctx: dict, k: int, i: int):
    """GET /health once."""
    async with session.get(ctx["url"] + "/health") as answer:
        return answer.status, b"", None


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("verify", __doc__)
    p.add_argument("--steps", default="1,2,3", help="which measures, comma-separated")
    p.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    p.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="broker and throttle cache (FLUSHED)",
    )
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    p.add_argument("--threads", type=int, default=8, help="threads per gthread worker")
    p.add_argument("--celery-pool", default="prefork")
    p.add_argument("--celery-concurrency", type=int, default=4)
    p.add_argument("--records", type=int, help="court records in the ledger [1000]")
    p.add_argument("--anchors", type=int, help="anchors in the ledger [1000]")
    p.add_argument("--clients", help="closed-loop client counts [16,32,64]")
    p.add_argument("--rate", type=float, default=100.0, help="open loop: verifications/s")
    p.add_argument("--warmup", type=float, help="load before each window, s [5]")
    p.add_argument("--duration", type=float, help="measured window, s [20]")
    p.add_argument("--give-up", type=float, help="a verification's time limit, s [60]")
    p.add_argument("--upload-size", type=int, help="bytes [1 GiB]")
    p.add_argument("--uploads", type=int, help="uploads timed [3]")
    p.add_argument("--check", type=int, help="results checked per run [300]")
    args = harness.parse(p, QUICK, FULL, argv)
    started = time.perf_counter()
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    rates = "100000000/s"  # the throttle runs (one Redis pipeline per POST), never refuses
    harness.prepare(
        args,
        CELERY_BROKER_URL=args.redis_url,
        CACHE_URL=args.redis_url,
        VERIFY_RATE=rates,
        VERIFY_BATCH_RATE=rates,
    )
    harness.describe("Public verification benchmark", args)
    ledger = prepare_ledger(args)
    note(f"ledger: {args.records:,} records and {args.anchors:,} anchors integrated")
    summary = Table("Summary against the targets")
    with harness.Servers() as servers:
        servers.sequencer()
        servers.celery(args.celery_pool, args.celery_concurrency)
        url = servers.gunicorn(args.worker_class, args.workers, args.threads)
        groups = {name: [servers.pid(name)] for name in ("gunicorn", "celery", "sequencer")}
        server = f"gunicorn {args.workers} x {args.worker_class} {args.threads}, Celery "
        server += f"{args.celery_pool} x {args.celery_concurrency}"
        ctx = {"url": url, "seed": args.seed, "give_up": args.give_up, "server": server}
        ctx["digests"] = [sha for sha, *_ in ledger]
        quiet = "not waited for" if args.quick or args.no_wait else harness.wait_for_quiet()
        note(f"machine: {quiet}")
        if 1 in harness.steps(args.steps):
            best = max(
                run(args, ctx, groups, ledger, clients=int(c))["rate"]
                for c in args.clients.split(",")
            )
            summary.add(
                "verifications/s, closed loop, best",
                f"{best:,.1f}",
                f">= {TARGET_RATE}",
                best >= TARGET_RATE,
            )
            p99 = run(args, ctx, groups, ledger, rate=args.rate)["p99"]
            summary.add(
                f"p99 at {args.rate:g}/s offered",
                f"{p99 * 1000:.1f} ms",
                f"< {TARGET_P99 * 1000:g} ms",
                p99 < TARGET_P99,
            )
        if 2 in harness.steps(args.steps):
            settle()
            upload_step(args, url, harness.children(servers.pid("gunicorn")), summary)
        if 3 in harness.steps(args.steps):
            window = harness.load(
                health, ctx, groups, clients=16, warmup=1.0, duration=min(10.0, args.duration)
            )
            summary.add(
                "GET /health requests/s (ceiling)",
                f"{len(window.answered(200)) / window.duration:,.1f}",
            )
    summary.print()
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
