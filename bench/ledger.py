#!/usr/bin/env python
"""Benchmark the ledger (anchoring app) on real PostgreSQL and print a plain-text table.

Three measures, each against a target:

  1. Integration throughput: N leaves are pooled with COPY (not timed), then
     sequencer.integrate() is timed batch by batch until the pool is empty.
     Target: >= 10,000 entries/s.
  2. Submit-to-proof latency: the real sequencer loop runs (manage.py sequencer as its
     own process by default, LEDGER_BATCH_PERIOD=--period) while K submitter threads
     loop sequencer.submit_and_wait(leaf) for D seconds. Latency runs from just before
     submit to the returned receipt (index, inclusion proof, signed checkpoint).
     Target: p99 < 2 s at a 1 s period.
  3. Inclusion proof time: the log is grown to --proof-size entries (1,000,000 by
     default; step 1's entries are reused and topped up), then store.inclusion_proof()
     is timed for random indexes at that size, and GET /api/v1/ledger/proof/inclusion
     is timed separately (Django test Client in-process, and a live gunicorn).
     Target: < 2 ms per proof at 1M entries.

Receipts and proofs are verified after the timed part (signed checkpoint opened with the
log's verifier key, merkle.verify_inclusion against its root), so the figures are for
correct proofs.

The benchmark uses its OWN database, dropped and recreated at every start so runs are
repeatable: --database-url, else $BENCH_DATABASE_URL, else
postgres://postgres@127.0.0.1:5432/portal_bench. $DATABASE_URL is deliberately ignored
(it usually names a database worth keeping), and a database whose name does not contain
"bench" is refused. The signing key lives in $PORTAL_DATA_DIR (default bench/.data) and
is generated on first use.

    python bench/ledger.py                 # the full run (a few minutes)
    python bench/ledger.py --quick         # smoke test, under a minute
    make bench BENCH_ARGS="--entries 500000 --batch-sizes 16384,4096"
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import http.client
import io
import json
import math
import os
import platform
import pstats
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"

TARGET_RATE = 10_000  # entries/s integrated
TARGET_P99 = 2.0  # s, submit-to-proof at a 1 s period
TARGET_PROOF_MS = 2.0  # ms per inclusion proof at 1M entries

QUICK = {
    "entries": 20_000,
    "duration": 5.0,
    "proof_size": 60_000,
    "proof_samples": 500,
    "api_samples": 50,
    "verify_sample": 300,
}


# --- Options ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/ledger.py",
        description=__doc__.split("\n\n")[0],
        epilog="Environment: BENCH_DATABASE_URL, PORTAL_DATA_DIR (default bench/.data), "
        "SECRET_KEY (default 'bench'). LEDGER_SEQUENCER is forced to 'off' in this "
        "process; the benchmark starts the sequencer itself in step 2.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to DROP, recreate and use (name must contain 'bench')",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + " unless given explicitly",
    )
    parser.add_argument(
        "--steps", default="1,2,3", help="which measures to run, comma-separated (1, 2, 3)"
    )
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")

    g = parser.add_argument_group("1. integration throughput")
    g.add_argument(
        "--entries", type=int, default=None, help="N, leaves pooled per batch size [200000]"
    )
    g.add_argument(
        "--batch-sizes",
        default=None,
        help="comma-separated batch sizes; each gets its own pool of N leaves "
        "[settings.LEDGER_BATCH_SIZE]",
    )

    g = parser.add_argument_group("2. submit-to-proof latency")
    g.add_argument("--submitters", type=int, default=32, help="K, concurrent submitter threads")
    g.add_argument(
        "--duration", type=float, default=None, help="D, seconds each submitter loops [20]"
    )
    g.add_argument("--period", type=float, default=1.0, help="LEDGER_BATCH_PERIOD, seconds")
    g.add_argument(
        "--sequencer",
        choices=["process", "thread"],
        default="process",
        help="run the sequencer as 'manage.py sequencer' or as sequencer.run() in a thread "
        "of this process",
    )
    g.add_argument(
        "--load",
        type=float,
        default=0.0,
        help="extra background load in entries/s, pooled with COPY every 0.1 s during the "
        "window (the K closed-loop submitters alone offer only about K/latency entries/s)",
    )
    g.add_argument(
        "--verify-sample",
        type=int,
        default=None,
        help="receipts to verify (0 = all) [1000]",
    )

    g = parser.add_argument_group("3. inclusion proofs")
    g.add_argument(
        "--proof-size", type=int, default=None, help="tree size the proofs are for [1000000]"
    )
    g.add_argument(
        "--proof-samples",
        type=int,
        default=None,
        help="random indexes timed with store.inclusion_proof [2000]",
    )
    g.add_argument(
        "--api-samples",
        type=int,
        default=None,
        help="requests timed per API variant (0 = skip the API) [300]",
    )
    g.add_argument(
        "--http",
        choices=["client", "gunicorn", "both"],
        default="both",
        help="time the API through Django's test Client, a live gunicorn, or both",
    )

    g = parser.add_argument_group("profiling")
    g.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="after a measure, profile it (cProfile + time per SQL statement, in a separate "
        "untimed pass): auto = only when its target is missed",
    )

    args = parser.parse_args(argv)
    defaults = {
        "entries": 200_000,
        "duration": 20.0,
        "proof_size": 1_000_000,
        "proof_samples": 2000,
        "api_samples": 300,
        "verify_sample": 1000,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else value)
    args.steps = {int(s) for s in args.steps.split(",") if s.strip()}
    if not args.steps <= {1, 2, 3}:
        parser.error("--steps takes 1, 2 and/or 3")
    if args.batch_sizes:
        args.batch_sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    name = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in name:
        parser.error(f"refusing to drop database {name!r}: its name must contain 'bench'")
    return args


# --- Database and Django ----------------------------------------------------------------


_bench_lock = None  # the connection holding the run's advisory lock, open until exit


def lock_benchmark(url: str) -> None:
    """Refuse to start while another run uses the same benchmark database.

    A second run would DROP the database under the first one. The lock is a session
    advisory lock on the `postgres` maintenance database, keyed by the database name, so
    it is released when this process exits, however it exits.
    """
    global _bench_lock
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)
    key = f"bench/ledger.py {name}"
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another bench/ledger.py run is using database {name!r}; wait for it")
    _bench_lock = conn


def recreate_database(url: str) -> str:
    """DROP and CREATE the benchmark database via the `postgres` maintenance database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = conn.execute("SHOW server_version").fetchone()[0]
    return version


def setup_django(args: argparse.Namespace) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench")
    data_dir = Path(os.environ.setdefault("PORTAL_DATA_DIR", str(ROOT / "bench" / ".data")))
    data_dir.mkdir(parents=True, exist_ok=True)
    ignore = data_dir / ".gitignore"
    if data_dir.resolve().is_relative_to(ROOT) and not ignore.exists():
        ignore.write_text("*\n")  # the signing key and anything else in here stay untracked
    os.environ.setdefault("LEDGER_GENERATE_KEY", "1")
    os.environ["LEDGER_SEQUENCER"] = "off"
    os.environ["LEDGER_BATCH_PERIOD"] = str(args.period)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # no collectstatic
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- Helpers ----------------------------------------------------------------------------


def make_leaf(tag: str):
    from anchoring.digest import sm3
    from anchoring.leaf import Kind, Leaf

    content = tag.encode()
    return Leaf(Kind.ANCHOR, 1_767_225_600_000, hashlib.sha256(content).digest(), sm3(content))


def leaf_datas(prefix: str, start: int, count: int) -> list[bytes]:
    return [make_leaf(f"{prefix} {i}").encode() for i in range(start, start + count)]


def pool(datas: list[bytes], analyze: bool = True) -> None:
    """Pool leaves with one COPY (the fast, untimed path), then ANALYZE the pool."""
    from django.db import connection, transaction
    from django.utils import timezone

    from anchoring.models import Submission

    table = Submission._meta.db_table
    now = timezone.now()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} (data, submitted_at) FROM STDIN") as copy,
    ):
        for data in datas:
            copy.write_row((data, now))
    if analyze:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")


def pool_in_chunks(prefix: str, count: int, chunk: int = 100_000) -> None:
    for start in range(0, count, chunk):
        pool(leaf_datas(prefix, start, min(chunk, count - start)))


def drain(batch_size: int | None = None) -> tuple[int, list[tuple[int, float]]]:
    """Integrate until the pool is empty; return (entries, [(batch entries, seconds)])."""
    from anchoring import sequencer

    batches, total = [], 0
    while True:
        t0 = time.perf_counter()
        added = sequencer.integrate(batch_size)
        dt = time.perf_counter() - t0
        if not added:
            return total, batches
        batches.append((added, dt))
        total += added


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


class Table:
    """Plain-text table: measure | value | target | verdict."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, measure: str, value: str, target: str = "", verdict: str = "") -> None:
        self.rows.append((measure, value, target, verdict))

    def render(self) -> str:
        head = ("measure", "value", "target", "")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        out = [
            self.title,
            line,
            "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
            line,
        ]
        for row in self.rows:
            out.append(
                "  ".join(
                    (c.rjust(w) if i == 1 else c.ljust(w))
                    for i, (c, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
        out.append(line)
        return "\n".join(out)

    def print(self) -> None:
        print("\n" + self.render(), flush=True)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def note(text: str) -> None:
    print(f"  .. {text}", flush=True)


class SqlTimer:
    """An execute_wrapper summing the time of each kind of SQL statement."""

    def __init__(self) -> None:
        self.time: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)

    @staticmethod
    def kind(sql: str) -> str:
        s = " ".join(sql.split())
        m = re.match(r"(SELECT|INSERT INTO|DELETE FROM|UPDATE|COPY)\s+(.*)", s, re.I)
        if not m:
            return s[:40]
        verb, rest = m.group(1).upper(), m.group(2)
        if "pg_advisory_xact_lock" in rest:
            return "SELECT pg_advisory_xact_lock"
        table = re.search(r'(?:FROM\s+)?"?(anchoring_\w+)"?', rest)
        what = table.group(1) if table else rest[:30]
        columns = re.split(r"\bFROM\b", rest, maxsplit=1, flags=re.I)[0]
        if verb == "SELECT" and "anchoring_tile" in rest and re.search(r"\broot\b", columns):
            what += " (roots: partial tile)"
        elif verb == "SELECT" and "anchoring_entry" in rest and re.search(r'index"? >=', rest):
            what += " (range: partial tile)"
        elif verb == "SELECT" and "anchoring_tile" in rest and re.search(r"\bhashes\b", columns):
            what += " (full tiles)"
        return f"{verb} {what}"

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - t0
            key = self.kind(sql)
            self.time[key] += elapsed
            self.count[key] += 1

    def report(self, wall: float, per: int, unit: str) -> None:
        total = sum(self.time.values())
        print(
            f"  time in cursor.execute per SQL statement kind (wall {wall:.3f} s, {per} x {unit}):"
        )
        for key, t in sorted(self.time.items(), key=lambda kv: -kv[1]):
            print(
                f"    {t / wall * 100:5.1f}%  {t * 1000 / per:9.3f} ms/{unit}  "
                f"{self.count[key] / per:7.2f} calls/{unit}  {key}"
            )
        print(
            f"    {(wall - total) / wall * 100:5.1f}%  {(wall - total) * 1000 / per:9.3f} "
            f"ms/{unit}  outside cursor.execute (Python: ORM, rows, hashing, signing; "
            "COPY, which bypasses execute)"
        )


def profile_top(prof: cProfile.Profile, limit: int = 18) -> None:
    for sort in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(sort)
        stats.print_stats(limit)
        text = buf.getvalue()
        body = text[text.find("   ncalls") :] if "   ncalls" in text else text
        print(f"  cProfile, top {limit} by {sort}:")
        for line in body.rstrip().splitlines():
            print("    " + line)


# --- 1. Integration throughput ----------------------------------------------------------


def step_integrate(args, results) -> None:
    from django.conf import settings

    from anchoring import store

    sizes = args.batch_sizes or [settings.LEDGER_BATCH_SIZE]
    table = Table(
        f"1. Integration throughput: N={fmt_int(args.entries)} pooled per batch size, "
        "sequencer.integrate() timed until the pool is empty"
    )
    missed = []
    for i, size in enumerate(sizes):
        start = store.tree_size()
        note(f"pooling {fmt_int(args.entries)} leaves (COPY, untimed) for batch size {size}")
        t0 = time.perf_counter()
        pool_in_chunks(f"throughput {i}", args.entries)
        note(f"pooled in {time.perf_counter() - t0:.1f} s; integrating")
        total, batches = drain(size)
        seconds = sum(dt for _, dt in batches)
        rate = total / seconds
        full = [dt for n, dt in batches if n == size] or [dt for _, dt in batches]
        ok = rate >= TARGET_RATE
        if not ok:
            missed.append(size)
        label = f"batch {size}"
        table.add(f"{label}: log size", f"{fmt_int(start)} -> {fmt_int(start + total)}")
        table.add(f"{label}: batches", f"{len(batches)}")
        table.add(
            f"{label}: entries/s overall",
            fmt_int(rate),
            f">= {fmt_int(TARGET_RATE)}",
            verdict(ok),
        )
        table.add(f"{label}: median batch time (full batches)", f"{statistics.median(full):.3f} s")
        table.add(f"{label}: min / max batch time", f"{min(full):.3f} / {max(full):.3f} s")
        table.add(
            f"{label}: first / last batch time", f"{batches[0][1]:.3f} / {batches[-1][1]:.3f} s"
        )
        results.setdefault("integrate", []).append((size, rate, ok))
    table.print()
    if args.profile == "always" or (args.profile == "auto" and missed):
        # Run after step 3: the profiling pass grows the log, which must not move step 3.
        results["profile_integrate"] = sizes[0]


def profile_integrate(args, size: int) -> None:
    from django.db import connection

    from anchoring import sequencer

    count = max(3 * size, 1)
    print(
        f"\nProfile of step 1, integrate({size}): {fmt_int(count)} more leaves pooled, "
        "separate untimed passes"
    )
    pool_in_chunks("profile integrate", count)
    timer = SqlTimer()
    batches = 0
    t0 = time.perf_counter()
    with connection.execute_wrapper(timer):
        while sequencer.integrate(size):
            batches += 1
    timer.report(time.perf_counter() - t0, batches, "batch")
    pool_in_chunks("profile integrate cprofile", count)
    prof = cProfile.Profile()
    prof.enable()
    while sequencer.integrate(size):
        pass
    prof.disable()
    profile_top(prof)


# --- 2. Submit-to-proof latency ---------------------------------------------------------


def start_sequencer_process(args) -> tuple[subprocess.Popen, Path]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        LEDGER_BATCH_PERIOD=str(args.period),
        LEDGER_SIGNING_KEY_FILE=str(settings.LEDGER_SIGNING_KEY_FILE),
        LEDGER_SEQUENCER="off",
        PYTHONPATH=str(ROOT),
    )
    log = Path(tempfile.mkstemp(prefix="bench-sequencer-", suffix=".log")[1])
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "sequencer"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    return proc, log


def step_latency(args, results) -> None:
    from django.conf import settings
    from django.db import close_old_connections, connection

    from anchoring import keys, merkle, sequencer, store
    from anchoring.checkpoint import open_checkpoint
    from anchoring.models import Checkpoint, Entry, Submission

    keys.signer()  # make sure the key exists before another process might create it
    sequencer.integrate()  # the empty log's first checkpoint, if this is a fresh log
    if Submission.objects.exists():
        drain()
    seq_thread, stop, proc, log = None, threading.Event(), None, None
    if args.sequencer == "thread":
        seq_thread = threading.Thread(target=sequencer.run, args=(stop,), daemon=True)
        seq_thread.start()
    else:
        proc, log = start_sequencer_process(args)
    try:
        note(f"sequencer ({args.sequencer}) started, period {args.period} s; warming up")
        sequencer.submit_and_wait(make_leaf("latency warm-up"), timeout=120)
        samples: list[tuple[float, float, bytes, sequencer.Receipt]] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        start_barrier = threading.Barrier(args.submitters + 1)
        window: dict[str, float] = {}

        def submitter(k: int) -> None:
            try:
                start_barrier.wait()
                i = 0
                while time.perf_counter() < window["end"]:
                    entry = make_leaf(f"latency {k} {i}")
                    wall = time.time()
                    t0 = time.perf_counter()
                    receipt = sequencer.submit_and_wait(entry)
                    dt = time.perf_counter() - t0
                    with lock:
                        samples.append((dt, wall, entry.encode(), receipt))
                    i += 1
            except BaseException as exc:  # a timeout is a result too
                with lock:
                    errors.append(exc)
            finally:
                connection.close()

        threads = [
            threading.Thread(target=submitter, args=(k,), daemon=True)
            for k in range(args.submitters)
        ]
        loaded = [0]

        go = threading.Event()

        def loader() -> None:
            go.wait()
            tick, debt, next_tick = 0.1, 0.0, time.perf_counter()
            try:
                while time.perf_counter() < window["end"]:
                    debt += args.load * tick
                    count = int(debt)
                    debt -= count
                    if count:
                        pool(leaf_datas("load", loaded[0], count), analyze=False)
                        loaded[0] += count
                    next_tick += tick
                    time.sleep(max(0.0, next_tick - time.perf_counter()))
            except BaseException as exc:
                with lock:
                    errors.append(exc)
            finally:
                connection.close()

        if args.load:
            threads.append(threading.Thread(target=loader, daemon=True))
        for t in threads:
            t.start()
        window["start_wall"] = time.time()
        window["end"] = time.perf_counter() + args.duration
        go.set()
        start_barrier.wait()
        load_note = (
            f", plus {args.load:,.0f} entries/s pooled in the background" if args.load else ""
        )
        note(
            f"{args.submitters} submitters looping submit_and_wait for {args.duration:g} s"
            + load_note
        )
        for t in threads:
            t.join()
        window["end_wall"] = time.time()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if seq_thread is not None:
            stop.set()
            seq_thread.join(timeout=30)
        close_old_connections()

    latencies = [s[0] for s in samples]
    ok = bool(latencies) and not errors and pct(latencies, 99) < TARGET_P99

    # Verify receipts (after the timed part): signed checkpoint, leaf hash, proof, entry.
    rng = random.Random(args.seed)
    sample = (
        samples
        if not args.verify_sample
        else rng.sample(samples, min(len(samples), args.verify_sample))
    )
    verifier = keys.verifier()
    stored = dict(
        Entry.objects.filter(index__in=[s[3].index for s in sample]).values_list("index", "data")
    )
    for _dt, _wall, data, r in sample:
        cp = open_checkpoint(r.checkpoint, verifier, origin=settings.LEDGER_ORIGIN)
        assert cp.size == r.tree_size, "receipt size differs from its checkpoint"
        assert r.leaf_hash == merkle.leaf_hash(data), "receipt leaf hash is not the leaf's"
        assert bytes(stored[r.index]) == data, "receipt index holds another entry"
        merkle.verify_inclusion(r.leaf_hash, r.index, r.tree_size, r.inclusion_proof, cp.root_hash)

    # Where the latency goes: queueing until the batch that took the leaf started
    # (Entry.integrated_at is the batch's start time), then the rest.
    integrated = dict(
        Entry.objects.filter(index__in=[s[3].index for s in samples]).values_list(
            "index", "integrated_at"
        )
    )
    queue = [integrated[r.index].timestamp() - wall for _dt, wall, _d, r in samples]
    after = [dt - q for (dt, *_rest), q in zip(samples, queue, strict=True)]
    cps = list(
        Checkpoint.objects.filter(
            created_at__gte=datetime.fromtimestamp(window["start_wall"], UTC),
            created_at__lte=datetime.fromtimestamp(window["end_wall"], UTC),
        ).order_by("tree_size")
    )
    gaps = [
        (b.created_at - a.created_at).total_seconds() for a, b in zip(cps, cps[1:], strict=False)
    ]
    sizes = [b.tree_size - a.tree_size for a, b in zip(cps, cps[1:], strict=False)]

    table = Table(
        f"2. Submit-to-proof latency: {args.submitters} submitters x {args.duration:g} s, "
        f"sequencer {args.sequencer}, period {args.period:g} s"
        + (f", background load {args.load:,.0f} entries/s" if args.load else "")
    )
    table.add("receipts (count)", fmt_int(len(latencies)))
    table.add("errors / timeouts", str(len(errors)))
    table.add("receipts per second", f"{len(latencies) / args.duration:,.1f}")
    if args.load:
        table.add("background entries pooled in the window", fmt_int(loaded[0]))
    if latencies:
        table.add("p50", f"{pct(latencies, 50):.3f} s")
        table.add("p90", f"{pct(latencies, 90):.3f} s")
        table.add("p99", f"{pct(latencies, 99):.3f} s", f"< {TARGET_P99:g} s", verdict(ok))
        table.add("max", f"{max(latencies):.3f} s")
        table.add("mean", f"{statistics.fmean(latencies):.3f} s")
        table.add(
            "  of which queued until its batch began (p50/p99)",
            f"{pct(queue, 50):.3f} / {pct(queue, 99):.3f} s",
        )
        table.add(
            "  of which batch + poll + proof after it (p50/p99)",
            f"{pct(after, 50):.3f} / {pct(after, 99):.3f} s",
        )
    if gaps:
        table.add("batches in the window", str(len(cps)))
        table.add(
            "time between batch starts (median/max)",
            f"{statistics.median(gaps):.3f} / {max(gaps):.3f} s",
        )
        table.add(
            "entries per batch (median/max)", f"{statistics.median(sizes):,.0f} / {max(sizes):,}"
        )
    table.add("receipts verified", f"{len(sample)} of {len(samples)}, all valid")
    table.add("log size after", fmt_int(store.tree_size()))
    table.print()
    if errors:
        print(f"  first error: {errors[0]!r}")
    if log is not None:
        text = log.read_text().strip()
        if text:
            print("  sequencer stderr (last lines):\n    " + "\n    ".join(text.splitlines()[-8:]))
        log.unlink()
    results["latency"] = (pct(latencies, 99) if latencies else float("nan"), ok)


# --- 3. Inclusion proofs at 1M ----------------------------------------------------------


def grow_to(size: int) -> None:
    from anchoring import store
    from anchoring.models import Submission

    if Submission.objects.exists():
        drain()
    current = store.tree_size()
    if current >= size:
        return
    need = size - current
    note(f"growing the log {fmt_int(current)} -> {fmt_int(size)} (COPY + integrate)")
    t0 = time.perf_counter()
    pool_in_chunks("top-up", need)
    pooled = time.perf_counter() - t0
    total, batches = drain()
    seconds = sum(dt for _, dt in batches)
    note(
        f"pooled in {pooled:.1f} s; integrated {fmt_int(total)} in {seconds:.1f} s "
        f"({fmt_int(total / seconds)} entries/s, log {fmt_int(current)} -> {fmt_int(size)})"
    )


def independent_root(size: int) -> bytes:
    """MTH of the first `size` entries, hashed from the entries alone (no tiles)."""
    from anchoring import merkle
    from anchoring.models import Entry

    hashes = [
        merkle.leaf_hash(bytes(d))
        for d in Entry.objects.filter(index__lt=size)
        .order_by("index")
        .values_list("data", flat=True)
        .iterator(chunk_size=20_000)
    ]
    assert len(hashes) == size, "the log has a gap"
    return merkle.root(hashes)


def step_proofs(args, results) -> None:
    from django.db import connection

    from anchoring import merkle, store
    from anchoring.models import Checkpoint, Entry

    grow_to(args.proof_size)
    size = args.proof_size
    newest = store.tree_size()
    cp = Checkpoint.objects.filter(tree_size=size).first()
    if cp is None:
        raise SystemExit(
            f"no checkpoint at size {size} (the log is at {newest}); use a --proof-size "
            "above what steps 1 and 2 write"
        )
    root = bytes(cp.root_hash)
    t0 = time.perf_counter()
    assert independent_root(size) == root, "checkpoint root differs from the entries' root"
    note(
        f"checkpoint root at {fmt_int(size)} re-hashed from the entries alone: equal "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    rng = random.Random(args.seed)
    indexes = [rng.randrange(size) for _ in range(args.proof_samples)]
    # Newer store code keeps computed tiles in a per-process cache (store.forget_tiles()
    # empties it). The main figure is a process whose cache fills as it serves proofs;
    # a second pass empties it before every proof (the cold case).
    forget = getattr(store, "forget_tiles", None)
    if forget:
        forget()
    for i in indexes[:20]:  # warm the connection (and the cache, if any)
        store.inclusion_proof(i, size)
    times, proofs = [], []
    for i in indexes:
        t0 = time.perf_counter()
        proof = store.inclusion_proof(i, size)
        times.append(time.perf_counter() - t0)
        proofs.append(proof)
    leaves = dict(Entry.objects.filter(index__in=indexes).values_list("index", "data"))
    for i, proof in zip(indexes, proofs, strict=True):
        merkle.verify_inclusion(merkle.leaf_hash(bytes(leaves[i])), i, size, proof, root)
    ms = [t * 1000 for t in times]
    ok = statistics.median(ms) < TARGET_PROOF_MS
    cold_ms = []
    if forget:
        cold_indexes = [rng.randrange(size) for _ in range(min(500, args.proof_samples))]
        cold_proofs = []
        for i in cold_indexes:
            forget()
            t0 = time.perf_counter()
            cold_proofs.append(store.inclusion_proof(i, size))
            cold_ms.append((time.perf_counter() - t0) * 1000)
        cold_leaves = dict(
            Entry.objects.filter(index__in=cold_indexes).values_list("index", "data")
        )
        for i, proof in zip(cold_indexes, cold_proofs, strict=True):
            leaf_hash = merkle.leaf_hash(bytes(cold_leaves[i]))
            merkle.verify_inclusion(leaf_hash, i, size, proof, root)
    table = Table(
        f"3. Inclusion proofs at size {fmt_int(size)}: store.inclusion_proof(index, size), "
        f"{len(indexes)} random indexes"
    )
    table.add("median", f"{statistics.median(ms):.3f} ms", f"< {TARGET_PROOF_MS:g} ms", verdict(ok))
    table.add("p90", f"{pct(ms, 90):.3f} ms")
    table.add(
        "p99",
        f"{pct(ms, 99):.3f} ms",
        f"< {TARGET_PROOF_MS:g} ms",
        verdict(pct(ms, 99) < TARGET_PROOF_MS),
    )
    table.add("max", f"{max(ms):.3f} ms")
    table.add("proofs/s (one thread)", fmt_int(len(ms) / (sum(ms) / 1000)))
    table.add("proofs verified", f"{len(proofs)} of {len(proofs)}, all valid")
    if forget:
        from django.conf import settings

        table.add(
            "  (the process's tile cache filling as it goes; LEDGER_TILE_CACHE_SIZE",
            f"{getattr(settings, 'LEDGER_TILE_CACHE_SIZE', '?')})",
        )
        cold_ok = statistics.median(cold_ms) < TARGET_PROOF_MS
        table.add(
            "cold: store.forget_tiles() before each proof, median",
            f"{statistics.median(cold_ms):.3f} ms",
            f"< {TARGET_PROOF_MS:g} ms",
            verdict(cold_ok),
        )
        table.add("cold: p99 / max", f"{pct(cold_ms, 99):.3f} / {max(cold_ms):.3f} ms")
        table.add("cold: proofs (other random indexes), all verified", f"{len(cold_ms)}")
        results["proof_cold"] = (statistics.median(cold_ms), pct(cold_ms, 99), cold_ok)
    if args.api_samples:
        api_rows(args, table, indexes[: args.api_samples], size, root, leaves)
    table.print()
    results["proof"] = (statistics.median(ms), pct(ms, 99), ok)
    if args.profile == "always" or (args.profile == "auto" and not ok):
        print(
            f"\nProfile of step 3, store.inclusion_proof at size {fmt_int(size)} "
            "(separate untimed passes)"
        )
        sample = indexes[:500]
        if forget:
            print("  (cold: the tile cache is emptied before every proof)")
        timer = SqlTimer()
        t0 = time.perf_counter()
        with connection.execute_wrapper(timer):
            for i in sample:
                if forget:
                    forget()
                store.inclusion_proof(i, size)
        timer.report(time.perf_counter() - t0, len(sample), "proof")
        prof = cProfile.Profile()
        prof.enable()
        for i in sample:
            if forget:
                forget()
            store.inclusion_proof(i, size)
        prof.disable()
        profile_top(prof)


def check_api_body(body: dict, index: int, size: int, root: bytes, leaves) -> None:
    from anchoring import merkle

    assert body["index"] == index and body["tree_size"] == size, body
    assert bytes.fromhex(body["root_hash"]) == root
    leaf_hash = bytes.fromhex(body["leaf_hash"])
    assert leaf_hash == merkle.leaf_hash(bytes(leaves[index]))
    hashes = [bytes.fromhex(h) for h in body["hashes"]]
    merkle.verify_inclusion(leaf_hash, index, size, hashes, root)


def api_rows(args, table: Table, indexes, size, root, leaves) -> None:
    from django.db import connection
    from django.test import Client

    path = "/api/v1/ledger/proof/inclusion"
    variants = []
    if args.http in ("client", "both"):
        variants.append(("API via test Client (in-process, no HTTP)", None))
    if args.http in ("gunicorn", "both"):
        variants += [
            (f"API via gunicorn (1 sync worker), CONN_MAX_AGE={age}", age) for age in ("0", "60")
        ]
    for label, conn_max_age in variants:
        try:
            if conn_max_age is None:
                # The test Client never closes the database connection between requests
                # (it detaches close_old_connections): the persistent-connection case.
                client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=True)
                times = []
                for n, i in enumerate(indexes[:5] + indexes):
                    t0 = time.perf_counter()
                    response = client.get(path, {"index": i, "size": size})
                    if n >= 5:  # the first five warm up
                        times.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, response.content[:300]
                    check_api_body(response.json(), i, size, root, leaves)
                connection.close()
            else:
                times = gunicorn_times(args, indexes, size, root, leaves, conn_max_age)
        except Exception as exc:  # report it and go on with the other figures
            message = str(exc).strip().splitlines()[-1:] or [""]
            table.add(f"{label}: FAILED", f"{type(exc).__name__}: {message[0][:60]}")
            continue
        table.add(
            f"{label}: median / p99",
            f"{statistics.median(times):.3f} / {pct(times, 99):.3f} ms",
        )
    if variants:
        table.add("  (gunicorn: HTTP over loopback, one request at a time)", "")
        table.add("API requests timed per variant, responses verified", f"{len(indexes)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_times(args, indexes, size, root, leaves, conn_max_age: str) -> list[float]:
    port = free_port()
    env = dict(
        os.environ, DATABASE_URL=args.database_url, CONN_MAX_AGE=conn_max_age, PYTHONPATH=str(ROOT)
    )
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below); a pipe could fill and block
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:

        def get(i: int) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                query = urlencode({"index": i, "size": size})
                conn.request(
                    "GET", f"/api/v1/ledger/proof/inclusion?{query}", headers={"Host": "127.0.0.1"}
                )
                response = conn.getresponse()
                return response.status, response.read()
            finally:
                conn.close()

        deadline = time.monotonic() + 60
        while True:
            try:
                get(indexes[0])
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    log.seek(0)
                    err = log.read().decode(errors="replace").strip()
                    raise RuntimeError(f"gunicorn did not start: {err[-300:]}") from None
                time.sleep(0.2)
        for i in indexes[:5]:
            get(i)
        times = []
        for i in indexes:
            t0 = time.perf_counter()
            status, body = get(i)
            times.append((time.perf_counter() - t0) * 1000)
            assert status == 200, body[:300]
            check_api_body(json.loads(body), i, size, root, leaves)
        return times
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


# --- Main -------------------------------------------------------------------------------


def machine() -> list[str]:
    lines = [f"cores (nproc): {os.cpu_count()}"]
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"Model name:\s*(.+)", lscpu)
        if model:
            lines.append(f"cpu: {model.group(1).strip()}")
    except OSError:
        pass
    try:
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        lines.append(f"memory: {int(mem) / 1024 / 1024:.1f} GiB")
    except OSError:
        pass
    lines.append(f"python: {platform.python_version()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    lock_benchmark(args.database_url)
    pg_version = recreate_database(args.database_url)
    setup_django(args)
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    print("Ledger benchmark" + (" (--quick)" if args.quick else ""))
    for line in machine():
        print("  " + line)
    print(
        f"  postgresql: {pg_version} (shared_buffers {shared_buffers}, "
        f"synchronous_commit {sync_commit})"
    )
    db = urlsplit(args.database_url)
    print(f"  database: {db.hostname}:{db.port or 5432}/{db.path.lstrip('/')} (recreated)")
    print(
        f"  LEDGER_BATCH_SIZE {settings.LEDGER_BATCH_SIZE}, LEDGER_SUBMIT_POLL "
        f"{settings.LEDGER_SUBMIT_POLL} s, CONN_MAX_AGE "
        f"{settings.DATABASES['default']['CONN_MAX_AGE']}"
    )
    print(f"  options: {vars(args)}", flush=True)

    results: dict = {}
    if 1 in args.steps:
        step_integrate(args, results)
    if 2 in args.steps:
        step_latency(args, results)
    if 3 in args.steps:
        step_proofs(args, results)
    if "profile_integrate" in results:
        profile_integrate(args, results["profile_integrate"])

    summary = Table("Summary against the targets")
    for size, rate, ok in results.get("integrate", []):
        summary.add(
            f"integration, batch {size}",
            f"{fmt_int(rate)} entries/s",
            f">= {fmt_int(TARGET_RATE)}/s",
            verdict(ok),
        )
    if "latency" in results:
        p99, ok = results["latency"]
        summary.add(
            f"submit-to-proof p99, period {args.period:g} s",
            f"{p99:.3f} s",
            f"< {TARGET_P99:g} s",
            verdict(ok),
        )
    if "proof" in results:
        median, p99, ok = results["proof"]
        summary.add(
            f"inclusion proof at {fmt_int(args.proof_size)}, median (p99)",
            f"{median:.3f} ({p99:.3f}) ms",
            f"< {TARGET_PROOF_MS:g} ms",
            verdict(ok),
        )
    if "proof_cold" in results:
        median, p99, ok = results["proof_cold"]
        summary.add(
            "  same, cold tile cache, median (p99)",
            f"{median:.3f} ({p99:.3f}) ms",
            f"< {TARGET_PROOF_MS:g} ms",
            verdict(ok),
        )
    summary.print()
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
