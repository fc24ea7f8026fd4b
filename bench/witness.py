#!/usr/bin/env python
"""The witness: C2SP tlog-witness add-checkpoint requests per second through HTTP.

gunicorn (docker/gunicorn.conf.py: gevent workers) serves POST /witness/add-checkpoint on
PostgreSQL, with each log's qpd counted in Redis as deployed and WITNESS_RATE (the
per-client limit) off: every request comes from one address. The witness follows --logs
logs (64), each with its own Ed25519 key, added to its table untimed. Every request is
valid and must be cosigned: a log's requests go one at a time, each from the size the
witness last cosigned for it to the next one, with its consistency proof.

Untimed: one Merkle tree of --start-size leaves (100,000) grown by 1 to 2 x --batch
leaves (256) per checkpoint, shared by every log's sizes and proofs, and for each log
each checkpoint signed by its key and the add-checkpoint body built, so that the load
generator only sends bytes. A log's first request (old 0, no proof) is made in the
warm-up. A full run first waits for a quiet machine (1-minute load average below 1.5
for 30 s). Runs (--runs):

  closed  closed loop: one client per log, each sending its log's next checkpoint when
          the last is answered. Target: >= 500 cosigned requests/s (200 answers received
          in the window), no other answer.
  open    open loop at each of --rates (200/s, then the target's 500/s): requests started
          on schedule whether or not earlier ones are answered, each for the next log in
          turn (a log's request waits for its previous one, and that wait counts in its
          latency); latency p50 / p99 from the due time.

Only 200 answers count; any other is reported with its status. After each run a sample
of the answers is checked (the cosignature verifies with the witness's vkey on the
checkpoint sent) and every log's state in the witness's table must be the last
checkpoint it cosigned for it.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path

import harness
from harness import Table, note, pct

QUICK = {"duration": 10.0, "warmup": 3.0, "check": 200}
FULL = {"duration": 30.0, "warmup": 5.0, "check": 1000}
TARGET_RATE = 500
WITNESS_NAME = "bench.example/witness"
QPD = 10**9  # requests a day of each log: counted in Redis, never reached


# --- The logs: one Merkle tree, signed checkpoints, add-checkpoint bodies ----------------


class Tree:
    """A Merkle tree of `size` leaves held as every complete subtree's hash, level by level
    (RFC 9162), so that any root and consistency proof is a few look-ups."""

    def __init__(self, size: int) -> None:
        from anchoring import merkle

        self.node = merkle.node_hash
        level = [merkle.leaf_hash(b"bench witness entry %d" % i) for i in range(size)]
        self.levels = [level]
        while len(level) > 1:
            level = [self.node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self.levels.append(level)

    def subtree(self, start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
        return self.node(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int) -> bytes:
        return self.subtree(0, size)


def build_logs(args) -> tuple[list[dict], list[int], list[bytes]]:
    """Every log (origin, vkey, bodies), and the sizes and roots its checkpoints take in
    turn."""
    from anchoring import merkle
    from anchoring.checkpoint import Checkpoint, sign_checkpoint
    from anchoring.note import Signer, encode_base64, verifier_key

    rng = random.Random(args.seed)
    sizes = [args.start_size]
    for _ in range(args.steps - 1):
        sizes.append(sizes[-1] + rng.randint(1, 2 * args.batch))
    tree = Tree(sizes[-1])
    roots = [tree.root(size) for size in sizes]
    prefixes = []  # the old line and the proof: the same for every log
    for step, size in enumerate(sizes):
        old = sizes[step - 1] if step else 0
        proof = merkle.consistency_proof(old, size, tree.subtree) if old else []
        prefixes.append("\n".join([f"old {old}", *map(encode_base64, proof)]) + "\n\n")
    logs = []
    for n in range(args.logs):
        origin = f"bench.example/log-{n + 1}"
        signer = Signer.generate(origin)
        bodies = [
            (prefix + sign_checkpoint(Checkpoint(origin, size, root), signer)).encode()
            for prefix, size, root in zip(prefixes, sizes, roots, strict=True)
        ]
        logs.append({"origin": origin, "vkey": verifier_key(signer), "bodies": bodies})
    return logs, sizes, roots


# --- Load -------------------------------------------------------------------------------


async def add_checkpoint(session, ctx: dict, k: int, i: int):
    """POST the next checkpoint of log k (closed loop: client k; open loop: request k, the
    logs in turn); the log moves on only on a 200. Tag: (log, step)."""
    import asyncio

    logs = ctx["bodies"]
    n = k % len(logs)
    if "locks" not in ctx:  # made in the load generator's process, once
        ctx["locks"] = [asyncio.Lock() for _ in logs]
    async with ctx["locks"][n]:
        step = ctx["next"][n]
        if step >= len(logs[n]):
            raise RuntimeError("this log's precomputed checkpoints are used up (raise --steps)")
        async with session.post(ctx["url"], data=logs[n][step], headers=ctx["headers"]) as answer:
            body = await answer.read()
        if answer.status == 200:
            ctx["next"][n] = step + 1
        return answer.status, body, (n, step)


def check(args, window: harness.Window, logs: list[dict], sizes: list[int], tree_roots) -> int:
    """Verify a sample of the cosignatures, and every log's state; return how many
    cosignatures were checked."""
    from anchoring.cosignature import parse_witness_key
    from anchoring.note import open_note
    from witness import keys
    from witness.models import Log, origin_hash

    verifier = parse_witness_key(keys.vkey())
    answers = [r for r in window.results if r.status == 200]
    for r in random.Random(args.seed).sample(answers, min(len(answers), args.check)):
        n, step = r.tag
        note_text = logs[n]["bodies"][step].decode().split("\n\n", 1)[1]
        lines = r.body.decode()
        assert lines.startswith(f"— {WITNESS_NAME} "), f"not a cosignature line: {lines!r}"
        open_note(note_text + lines, [verifier])  # raises unless the witness signed it
    for log in logs:
        done = log["cosigned"]
        row = Log.objects.get(origin_hash=origin_hash(log["origin"]))
        want = sizes[done - 1] if done else 0
        assert row.size == want, f"{log['origin']}: witness holds {row.size}, cosigned {want}"
        if done:
            assert bytes(row.root_hash) == tree_roots[done - 1], f"{log['origin']}: wrong root"
    return min(len(answers), args.check)


def redis_pids() -> list[int]:
    """The Redis server's process, for its CPU (the qpd counters); [] if not found."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "redis-server":
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def run(
    args, mode: str, offered: float, ctx: dict, groups: dict, logs, sizes, roots, summary: Table
) -> None:
    load = {"clients": args.logs} if mode == "closed" else {"rate": offered}
    note(f"{mode}: {load}, {args.warmup:g} s warm-up, {args.duration:g} s")
    window = harness.load(
        add_checkpoint, ctx, groups, warmup=args.warmup, duration=args.duration, **load
    )
    for r in window.results:  # the next step of each log, for the next run
        if r.status == 200:
            n, step = r.tag
            ctx["next"][n] = max(ctx["next"][n], step + 1)
    for n, log in enumerate(logs):
        log["cosigned"] = ctx["next"][n]
    started = window.started()
    ok = len(window.answered(200))
    rate = ok / window.duration
    latency = [r.end - r.start for r in started if r.status == 200]
    others = [r for r in started if r.status != 200]
    statuses = sorted({r.status for r in started})
    counts = ", ".join(
        f"{s or 'no answer'}: {sum(r.status == s for r in started):,}" for s in statuses
    )
    title = {
        "closed": f"1. add-checkpoint, closed loop: {args.logs} clients, one log each",
        "open": f"2. add-checkpoint, open loop: {offered:g}/s offered over {args.logs} logs",
    }[mode]
    shape = f"{args.workers} x {args.worker_class}"
    table = Table(f"{title} x {window.duration:g} s, gunicorn {shape}")
    table.add(
        "cosigned requests/s (200 answers received in the window)",
        f"{rate:,.1f}",
        f">= {TARGET_RATE}" if mode == "closed" else "",
        (rate >= TARGET_RATE and not others) if mode == "closed" else None,
    )
    table.add("requests started in the window, by answer", f"{len(started):,} ({counts})")
    for r in others[:3]:
        table.add("  not 200", (r.error or f"{r.status}: {r.body[:60]!r}")[:80])
    table.add(
        "latency p50 / p90 / p99 (200s)",
        f"{pct(latency, 50) * 1000:.1f} / {pct(latency, 90) * 1000:.1f} / "
        f"{pct(latency, 99) * 1000:.1f} ms",
    )
    table.cpu(window.cpu, ok, "request", window.duration)
    table.add("cosignatures checked", f"{check(args, window, logs, sizes, roots):,}, all valid")
    table.add("every log's state", "its last cosigned checkpoint")
    table.print()
    if mode == "closed":
        summary.add(
            "cosigned add-checkpoint/s, closed loop",
            f"{rate:,.1f}",
            f">= {TARGET_RATE}",
            rate >= TARGET_RATE and not others,
        )
    else:
        summary.add(
            f"open loop at {offered:g}/s offered: answered/s, p50 / p99",
            f"{rate:,.1f}/s, {pct(latency, 50) * 1000:.1f} / {pct(latency, 99) * 1000:.1f} ms"
            + (f", {len(others)} not 200" if others else ""),
        )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("witness", __doc__)
    p.add_argument("--runs", default="closed,open", help="closed, open")
    p.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    p.add_argument("--logs", type=int, default=64, help="logs followed; closed-loop clients")
    p.add_argument("--rates", default=f"200,{TARGET_RATE}", help="open loops: requests/s")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--worker-class", default="gevent", help="gunicorn worker class")
    p.add_argument("--threads", type=int, default=64, help="threads per gthread worker")
    p.add_argument("--start-size", type=int, default=100_000, help="each log's first size")
    p.add_argument("--batch", type=int, default=256, help="mean leaves per checkpoint / 2")
    p.add_argument(
        "--steps",
        type=int,
        help="checkpoints precomputed per log [enough for 2,000/s closed and the open loops]",
    )
    p.add_argument("--duration", type=float, help="measured window, s [30]")
    p.add_argument("--warmup", type=float, help="load before each window, s [5]")
    p.add_argument("--check", type=int, help="cosignatures checked per run [1000]")
    p.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="the qpd counters' cache (FLUSHED)",
    )
    args = harness.parse(p, QUICK, FULL, argv)
    runs = []  # (mode, open loop's rate)
    for mode in (r.strip() for r in args.runs.split(",") if r.strip()):
        if mode not in ("closed", "open"):
            p.error(f"unknown run {mode!r}")
        rates = args.rates.split(",") if mode == "open" else ["0"]
        runs += [(mode, float(rate)) for rate in rates]
    if args.steps is None:
        window = args.warmup + args.duration
        args.steps = 2 + sum(math.ceil((rate or 2000) * window / args.logs) for _, rate in runs)
    started = time.perf_counter()
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    data = Path(os.environ.get("PORTAL_DATA_DIR") or harness.ROOT / "bench" / ".data")
    harness.prepare(
        args,
        CACHE_URL=args.redis_url,
        WITNESS_NAME=WITNESS_NAME,
        WITNESS_SIGNING_KEY_FILE=str(data / "keys" / "bench-witness.key"),
        WITNESS_GENERATE_KEY="1",
        WITNESS_RATE="",  # the per-client limit off: every request comes from one address
        WITNESS_LOG_LIST="",
    )
    harness.describe("Witness benchmark", args)
    from witness import keys
    from witness.models import Log, origin_hash

    keys.signer()  # the key exists before the workers read it
    t0 = time.perf_counter()
    logs, sizes, tree_roots = build_logs(args)
    Log.objects.bulk_create(
        Log(origin=o, origin_hash=origin_hash(o), vkey=log["vkey"], qpd=QPD)
        for log in logs
        for o in [log["origin"]]
    )
    body_bytes = sum(len(b) for b in logs[0]["bodies"]) / len(sizes)
    note(
        f"{args.logs} logs followed, {len(sizes):,} checkpoints each signed and their "
        f"bodies built ({body_bytes:,.0f} bytes on average; sizes {sizes[0]:,} to "
        f"{sizes[-1]:,}) in {time.perf_counter() - t0:.1f} s"
    )
    summary = Table("Summary against the targets")
    with harness.Servers() as servers:
        url = servers.gunicorn(args.worker_class, args.workers, args.threads)
        groups = {"web": [servers.pid("gunicorn")]}
        if redis := redis_pids():
            groups["redis"] = redis
        ctx = {
            "url": url + "/witness/add-checkpoint",
            "headers": {"Content-Type": "text/plain; charset=utf-8"},
            "bodies": [log["bodies"] for log in logs],
            "next": [0] * args.logs,
        }
        quiet = "not waited for" if args.quick or args.no_wait else harness.wait_for_quiet()
        note(f"machine: {quiet}")
        for mode, rate in runs:
            run(args, mode, rate, ctx, groups, logs, sizes, tree_roots, summary)
    summary.print()
    print(f"\nLoad average at the end: {harness.load_average()}.")
    print(f"Total run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
