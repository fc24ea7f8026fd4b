#!/usr/bin/env python
"""Benchmark public verification: verifications per second through the API, their latency,
a 1 GiB upload's throughput and memory, and the health endpoint as a ceiling.

Everything runs for real on this machine: gunicorn (portal.wsgi), Celery workers
(`celery -A portal worker`, broker on Redis), `manage.py sequencer`, and PostgreSQL. A
ledger of --records court records (registered with documents.registration.register) and
--anchors plain anchors is prepared first, untimed. Clients (asyncio + aiohttp with
keep-alive, in a process of their own) then verify digests the way an API user does:

  POST /api/v1/verifications {"sha256": ...}          answers 202 with the id
  GET  /api/v1/verifications/<id>   every --poll s     until "status" is "done"

Latency runs from just before the POST to the answer that says "done" (submit to final
result, poll interval included). 90% of the digests (--found) are of recorded entries,
the rest random; after each run a sample of the results is checked: "verified" with a
passed `inclusion` step whose proof re-verifies against the checkpoint in the database
for a known digest, "not_found" for an unknown one.

  1. Verifications/s, closed loop: C clients (each of --clients) each loop
     submit-and-poll for D s after a warm-up; the best C is the throughput.
     Target: >= 200 verifications/s.
     Latency, open loop: verifications started on a fixed schedule at --rate (100/s),
     whether or not earlier ones have finished. Target: p99 < 500 ms at 100/s offered.
  2. A 1 GiB upload: POST multipart (curl -F file=@a temp file, so the client never holds
     the file in memory) to the same endpoint; wall time -> MB/s, and the receiving
     gunicorn worker's peak RSS growth (VmHWM reset through /proc/<pid>/clear_refs before,
     read after, and VmRSS sampled every 2 ms). Targets: >= 250 MB/s, < 64 MiB. For
     reference the digests are timed in this process: SHA-256 alone, SM3 alone, both in
     parallel (verification.intake._ParallelDigests, as the upload handler does), both one
     after the other; and Django's MultiPartParser with the upload handler over the same
     body from memory (no HTTP).
  3. GET /health requests/s from the same gunicorn: the ceiling to compare with.

Throttling (VERIFY_RATE, VERIFY_BATCH_RATE) is set far above the offered load, counted in
Redis (CACHE_URL) as in production. Before a full run the script waits until the 1-minute
load average stays below --quiet-load for --quiet-for s (the machine is shared), and says
so. When a target is missed (--profile auto), an untimed pass samples the server processes
with py-spy and prints where their time goes, by file:line of the project's code.

The benchmark uses its OWN database, dropped and recreated at every start: --database-url,
else $BENCH_VERIFY_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/portal_bench_verify
(the name must contain "bench"), and its own Redis database (--redis-url, flushed at
start). Every process it starts (gunicorn, Celery, the sequencer, clients, curl, py-spy) is
stopped when it ends, also on errors and Ctrl-C.

    python bench/verify.py                 # the full run (about 5 minutes, plus the wait)
    python bench/verify.py --quick         # smoke test, under a minute
    python bench/verify.py --steps 1 --clients 32,64 --conn-max-age 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import pickle
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
# Shared with the other benchmarks (stdlib only at import time).
from court_api import (  # noqa: E402
    KINDS,
    Cpu,
    PgSampler,
    Processes,
    _cpu_cell,
    _has,
    children,
    connection_cost,
    postmaster_pid,
    py_spy,
    read_stacks,
    start_server,
)
from ledger import (  # noqa: E402
    Table,
    drain,
    machine,
    note,
    pct,
    pool,
    recreate_database,
    verdict,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_verify"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
API = "/api/v1/verifications"
MiB = 1 << 20
GiB = 1 << 30

TARGET_RATE = 200  # completed verifications/s
TARGET_P99 = 0.5  # s, at --rate offered (100/s)
TARGET_UPLOAD = 250  # MB/s (10^6 bytes)
TARGET_MEMORY = 64 * MiB  # peak RSS growth of the receiving worker

QUICK = {
    "records": 200,
    "anchors": 300,
    "clients": "32",
    "warmup": 1.0,
    "duration": 5.0,
    "open_duration": 3.0,
    "verify_sample": 100,
    "upload_size": 256 * MiB,
    "uploads": 1,
    "hash_size": 64 * MiB,
    "health_duration": 2.0,
    "profile": "never",
    "give_up": 5.0,
    "aborts": 1,
    "extra_rates": "",
}
DEFAULTS = {
    "records": 1000,
    "anchors": 1000,
    "clients": "16,32,64",
    "warmup": 5.0,
    "duration": 20.0,
    "open_duration": 20.0,
    "verify_sample": 300,
    "upload_size": GiB,
    "uploads": 3,
    "hash_size": GiB,
    "health_duration": 10.0,
    "profile": "auto",
    "give_up": 60.0,
    "extra_rates": "auto",
    "aborts": 3,
}


# --- Options ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/verify.py",
        description=__doc__.split("\n\n")[0],
        epilog="Environment: BENCH_VERIFY_DATABASE_URL, PORTAL_DATA_DIR (default bench/.data), "
        "SECRET_KEY (default 'bench'). LEDGER_SEQUENCER is 'off' in every process; the "
        "benchmark runs `manage.py sequencer` itself.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_VERIFY_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to DROP, recreate and use (name must contain 'bench')",
    )
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help="Redis database for the Celery broker and the throttle cache (FLUSHED at start)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + " unless given explicitly; no wait for a quiet machine",
    )
    parser.add_argument("--steps", default="1,2,3", help="which measures, comma-separated")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")

    g = parser.add_argument_group("the shared machine")
    g.add_argument("--quiet-load", type=float, default=1.5, help="1-min load average to wait for")
    g.add_argument("--quiet-for", type=float, default=30.0, help="seconds it must stay below")
    g.add_argument(
        "--quiet-max-wait",
        type=float,
        default=1800.0,
        help="give up waiting after this many seconds (and say the machine was loaded)",
    )
    g.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")

    g = parser.add_argument_group("server")
    g.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    g.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    g.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    g.add_argument(
        "--celery-concurrency", type=int, default=4, help="Celery worker processes/threads"
    )
    g.add_argument("--celery-pool", default="prefork", help="Celery pool: prefork, threads, solo")
    g.add_argument("--period", type=float, default=1.0, help="LEDGER_BATCH_PERIOD, seconds")
    g.add_argument(
        "--celery-db-reuse-max",
        type=int,
        default=0,
        help="an experiment, not the project's configuration: start the worker from this "
        "script with CELERY_DB_REUSE_MAX set, so that Celery's Django fixup keeps the "
        "database connection for that many tasks (0: `celery -A portal worker` as is)",
    )
    g.add_argument(
        "--pool-size",
        type=int,
        default=None,
        help="DATABASE_POOL_SIZE for gunicorn and Celery: psycopg's connection pool per "
        "process (default: the project's, off; needs CONN_MAX_AGE 0)",
    )
    g.add_argument(
        "--conn-max-age",
        default=None,
        help="CONN_MAX_AGE for gunicorn and Celery (default: the project's; Celery closes "
        "its connection after every task whatever this says)",
    )

    g = parser.add_argument_group("ledger (prepared untimed)")
    g.add_argument("--records", type=int, default=None, help="court records registered [1000]")
    g.add_argument("--anchors", type=int, default=None, help="plain anchors pooled [1000]")

    g = parser.add_argument_group("1. verifications by digest")
    g.add_argument(
        "--clients", default=None, help="closed-loop client counts, comma-separated [16,32,64]"
    )
    g.add_argument("--duration", type=float, default=None, help="measured window per count [20]")
    g.add_argument("--warmup", type=float, default=None, help="load before each window, s [5]")
    g.add_argument("--rate", type=float, default=100.0, help="open-loop offered rate, /s")
    g.add_argument(
        "--extra-rates",
        default=None,
        help="more open-loop rates to run after --rate, comma-separated (no target); 'auto': "
        "half the best closed-loop throughput, when that is below --rate; '' for none [auto]",
    )
    g.add_argument(
        "--open-duration", type=float, default=None, help="open-loop measured window, s [20]"
    )
    g.add_argument("--poll", type=float, default=0.05, help="seconds between GETs of a result")
    g.add_argument("--found", type=float, default=0.9, help="share of digests that are recorded")
    g.add_argument(
        "--give-up", type=float, default=None, help="a verification's time limit, s [60]"
    )
    g.add_argument(
        "--verify-sample", type=int, default=None, help="results checked per run (0 = all) [300]"
    )

    g = parser.add_argument_group("2. upload")
    g.add_argument("--upload-size", type=int, default=None, help="bytes [1 GiB]")
    g.add_argument("--uploads", type=int, default=None, help="uploads timed [3]")
    g.add_argument(
        "--upload-sparse",
        action="store_true",
        help="upload a sparse file (zeros) instead of random bytes written to disk",
    )
    g.add_argument("--hash-size", type=int, default=None, help="bytes hashed in-process [1 GiB]")
    g.add_argument(
        "--aborts",
        type=int,
        default=None,
        help="uploads cut off by the client after 1 s, to count what they leave in the worker [3]",
    )

    g = parser.add_argument_group("3. health")
    g.add_argument("--health-clients", type=int, default=16, help="concurrent clients")
    g.add_argument("--health-duration", type=float, default=None, help="seconds [10]")

    g = parser.add_argument_group("profiling")
    g.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default=None,
        help="py-spy on the server in separate untimed passes: auto = when a target is "
        "missed [auto]",
    )
    g.add_argument("--profile-duration", type=float, default=15.0, help="seconds py-spy samples")
    # Internal: this script is also the load generator, run in a process of its own.
    parser.add_argument("--client-spec", help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    if args.client_spec:
        return args
    for key, value in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else value)
    args.clients = [int(c) for c in str(args.clients).split(",") if c.strip()]
    args.extra_rates = [
        r.strip() if r.strip() == "auto" else float(r)
        for r in args.extra_rates.split(",")
        if r.strip()
    ]
    args.steps = {int(s) for s in args.steps.split(",") if s.strip()}
    if not args.steps <= {1, 2, 3}:
        parser.error("--steps takes 1, 2 and/or 3")
    name = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in name:
        parser.error(f"refusing to drop database {name!r}: its name must contain 'bench'")
    if args.pool_size and args.conn_max_age not in (None, "0"):
        parser.error("--pool-size needs CONN_MAX_AGE 0 (Django refuses a pool otherwise)")
    return args


# --- The load generator (runs in its own process) ---------------------------------------


class _Failed(Exception):
    pass


def client_main(spec_path: str) -> int:
    """Run the clients of one load run; pickle every verification's (or request's) outcome.

    A verification's tuple: (client, seq, digest index or -1, sha256, scheduled, sent,
    POST answered, done, wall clock at send, last status, GETs, id, final body, error).
    A health request's: (client, seq, sent, answered, status, error).
    """
    import aiohttp

    spec = json.loads(Path(spec_path).read_text())
    base = spec["base"]
    digests = spec["digests"]
    results: list[tuple] = []

    async def verification(session, rng: random.Random, k: int, i: int, scheduled) -> None:
        if rng.random() < spec["found"]:
            j = rng.randrange(len(digests))
            sha = digests[j]
        else:
            j, sha = -1, rng.randbytes(32).hex()
        wall, t0 = time.time(), time.monotonic()
        t_post, status, polls, vid, body, error = None, 0, 0, None, b"", None
        try:
            async with session.post(base + API, json={"sha256": sha}) as response:
                status, body = response.status, await response.read()
            t_post = time.monotonic()
            if status != 202:
                raise _Failed(f"POST answered {status}")
            doc = json.loads(body)
            vid = doc["id"]
            while doc["status"] != "done":
                if time.monotonic() - t0 > spec["give_up"]:
                    raise _Failed(f"not done after {spec['give_up']:g} s")
                await asyncio.sleep(spec["poll"])
                async with session.get(f"{base}{API}/{vid}") as response:
                    status, body = response.status, await response.read()
                polls += 1
                if status != 200:
                    raise _Failed(f"GET answered {status}")
                doc = json.loads(body)
        except Exception as exc:  # a failure is a result too
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        t1 = time.monotonic()
        results.append(
            (
                k,
                i,
                j,
                sha,
                scheduled,
                t0,
                t_post,
                t1,
                wall,
                status,
                polls,
                vid,
                body if error is None else body[:400],
                error,
            )
        )
        if error and status == 0:
            await asyncio.sleep(0.05)  # no tight loop on a refused connection

    async def closed(session, k: int) -> None:
        rng = random.Random(f"{spec['seed']} {spec['first'] + k}")
        i = 0
        while time.monotonic() < spec["stop_at"]:
            await verification(session, rng, spec["first"] + k, i, None)
            i += 1

    async def open_loop(session) -> None:
        rng = random.Random(f"{spec['seed']} open {spec['first']}")
        step, n = spec["nproc"] / spec["rate"], 0
        offset = spec["first"] / spec["rate"]
        tasks = []
        while True:
            at = spec["start_at"] + offset + n * step
            if at >= spec["stop_at"]:
                break
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(verification(session, rng, spec["first"], n, at)))
            n += 1
        await asyncio.gather(*tasks)

    async def health(session, k: int) -> None:
        i = 0
        while time.monotonic() < spec["stop_at"]:
            t0, status, error = time.monotonic(), 0, None
            try:
                async with session.get(base + "/health") as response:
                    status = response.status
                    await response.read()
            except Exception as exc:
                error = f"{type(exc).__name__}: {str(exc)[:120]}"
            results.append((spec["first"] + k, i, t0, time.monotonic(), status, error))
            i += 1

    async def run() -> None:
        # Under gunicorn's --keep-alive (2 s): a connection the server is closing is not reused.
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=1.0)
        timeout = aiohttp.ClientTimeout(total=spec["give_up"])
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.sleep(max(0.0, spec["start_at"] - time.monotonic()))
            if spec["mode"] == "open":
                await open_loop(session)
            elif spec["mode"] == "closed":
                await asyncio.gather(*(closed(session, k) for k in range(spec["count"])))
            else:
                await asyncio.gather(*(health(session, k) for k in range(spec["count"])))

    asyncio.run(run())
    with open(spec["out"], "wb") as f:
        pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


# --- Database, Django, the ledger -------------------------------------------------------


_bench_lock = None  # the connection holding the run's advisory lock, open until exit


def lock_benchmark(url: str) -> None:
    """Refuse to start while another run uses the same benchmark database."""
    global _bench_lock
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)
    key = f"bench/verify.py {name}"
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another bench/verify.py run is using database {name!r}; wait")
    _bench_lock = conn


def setup_django(args) -> None:
    """Settings for this process, and (through os.environ) for every process it starts."""
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
    os.environ["CELERY_BROKER_URL"] = args.redis_url
    os.environ["CACHE_URL"] = args.redis_url  # the throttle's counters, as in production
    # Far above any load offered here: the throttle still runs (a cache read and write per
    # POST), it never refuses. Per second, so its history list stays short.
    os.environ["VERIFY_RATE"] = "100000000/s"
    os.environ["VERIFY_BATCH_RATE"] = "100000000/s"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"  # whitenoise: no collectstatic
    if args.conn_max_age is not None:
        os.environ["CONN_MAX_AGE"] = str(args.conn_max_age)
    if args.pool_size is not None:
        os.environ["DATABASE_POOL_SIZE"] = str(args.pool_size)
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def prepare_ledger(args) -> dict:
    """Register court records and pool anchors, integrate them all; return what to verify."""
    from anchoring import keys, sequencer
    from anchoring.digest import digests
    from anchoring.leaf import Kind, Leaf
    from anchoring.models import Entry
    from documents.models import Court, Record
    from documents.registration import NewRecord, register

    keys.signer()  # the key exists before the other processes read it
    sequencer.integrate()  # the empty log's first checkpoint
    rng = random.Random(args.seed)
    court = Court.objects.create(code="BENCH02", name_zh="基准核验法院", name_en="Bench Court")
    categories = [c for c, _ in Record.Category.choices]
    t0 = time.perf_counter()
    for i in range(args.records):
        sha, sm = digests(rng.randbytes(64))
        register(
            NewRecord(
                court=court,
                category=categories[i % len(categories)],
                title=f"Bench record {i}",
                case_number=f"(2026)京0105民初{i}号",
                parties=["张三", f"Bench Party {i} Ltd."],
                sha256=sha,
                sm3=sm,
            )
        )
    registered = time.perf_counter() - t0
    datas = []
    for _ in range(args.anchors):
        sha, sm = digests(rng.randbytes(64))
        datas.append(Leaf(Kind.ANCHOR, 1_767_225_600_000, sha, sm).encode())
    if datas:
        pool(datas)
    total, _ = drain()
    note(
        f"ledger: {args.records:,} records registered ({registered:.1f} s), "
        f"{args.anchors:,} anchors pooled, {total:,} entries integrated"
    )
    rows = list(Entry.objects.order_by("index").values_list("index", "sha256", "kind", "data"))
    codes = dict(Record.objects.values_list("sha256", "code"))
    return {
        "sha256": [bytes(r[1]).hex() for r in rows],
        "index": [r[0] for r in rows],
        "kind": [int(r[2]) for r in rows],
        "data": [bytes(r[3]) for r in rows],
        "code": [codes.get(bytes(r[1]).hex()) for r in rows],
    }


# --- Processes --------------------------------------------------------------------------


def celery_worker_main(reuse_max: int, argv: list[str]) -> int:
    """`celery -A portal worker`, with CELERY_DB_REUSE_MAX set (--celery-db-reuse-max)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from portal.celery import app

    app.conf["CELERY_DB_REUSE_MAX"] = reuse_max  # read by celery.fixups.django
    app.worker_main(["worker", *argv])
    return 0


def start_celery(args, procs: Processes) -> tuple[subprocess.Popen, Path]:
    log = Path(tempfile.mkstemp(prefix="bench-verify-celery-", suffix=".log")[1])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if args.celery_db_reuse_max:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--celery-worker",
            str(args.celery_db_reuse_max),
        ]
    else:
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker"]
    proc = procs.start(
        "celery",
        [
            *command,
            "--pool",
            args.celery_pool,
            "--concurrency",
            str(args.celery_concurrency),
            "--loglevel",
            "WARNING",
            "--hostname",
            f"bench-verify-{os.getpid()}@%h",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    return proc, log


def http_json(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def wait_done(port: int, vid: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, doc = http_json(port, "GET", f"{API}/{vid}")
        if status == 200 and doc["status"] == "done":
            return doc
        if time.monotonic() > deadline:
            raise RuntimeError(f"verification {vid} not done after {timeout:g} s: {doc}")
        time.sleep(0.05)


def warm_up(port: int, ledger: dict, celery_log: Path, count: int = 20) -> None:
    """Prove the whole chain (gunicorn, broker, Celery, database) before measuring."""
    deadline = time.monotonic() + 90
    first = True
    for i in range(count):
        sha = ledger["sha256"][i % len(ledger["sha256"])]
        status, doc = http_json(port, "POST", API, {"sha256": sha})
        if status != 202:
            raise RuntimeError(f"POST {API} answered {status}: {doc}")
        try:
            done = wait_done(port, doc["id"], max(1.0, deadline - time.monotonic()))
        except RuntimeError:
            raise RuntimeError(
                "the Celery worker did not finish a verification; its log:\n"
                + celery_log.read_text()[-1500:]
            ) from None
        if first:
            assert done["outcome"] == "verified", done
            first = False


def wait_for_quiet(args) -> str:
    """Wait for the shared machine to calm down; return what to print about it."""
    load = os.getloadavg()
    if args.quick or args.no_wait:
        return f"not waited for ({'--quick' if args.quick else '--no-wait'}); load average " + (
            " ".join(f"{x:.2f}" for x in load)
        )
    start = time.monotonic()
    quiet_since, last_print = None, start
    note(
        f"waiting for the 1-minute load average to stay below {args.quiet_load:g} for "
        f"{args.quiet_for:g} s (now {load[0]:.2f})"
    )
    while True:
        now = time.monotonic()
        l1 = os.getloadavg()[0]
        if l1 < args.quiet_load:
            quiet_since = quiet_since or now
            if now - quiet_since >= args.quiet_for:
                return (
                    f"waited {now - start:.0f} s for the 1-minute load average to stay below "
                    f"{args.quiet_load:g} for {args.quiet_for:g} s (load average then "
                    + " ".join(f"{x:.2f}" for x in os.getloadavg())
                    + ")"
                )
        else:
            quiet_since = None
        if now - start > args.quiet_max_wait:
            return (
                f"MACHINE LOADED: gave up after {now - start:.0f} s waiting for the load average "
                f"to stay below {args.quiet_load:g} (load average "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
                + ")"
            )
        if now - last_print > 60:
            note(f"  still waiting ({now - start:.0f} s, load average {l1:.2f})")
            last_print = now
        time.sleep(1.0)


# --- Load runs --------------------------------------------------------------------------


def run_clients(
    args,
    procs: Processes,
    *,
    mode: str,
    port: int,
    digests: list[str],
    count: int,
    warmup: float,
    duration: float,
    cpu: Cpu | None = None,
    sampler: PgSampler | None = None,
    on_window=None,
    rate: float = 0.0,
) -> dict:
    """Start the client process, wait for it, return its raw results and the window."""
    start_at = time.monotonic() + 1.5  # the client process imports aiohttp meanwhile
    window = (start_at + warmup, start_at + warmup + duration)
    out = Path(tempfile.mkstemp(prefix="bench-verify-client-", suffix=".pickle")[1])
    spec = {
        "base": f"http://127.0.0.1:{port}",
        "mode": mode,
        "digests": digests,
        "found": args.found,
        "poll": args.poll,
        "give_up": args.give_up,
        "seed": args.seed,
        "rate": rate,
        "first": 0,
        "nproc": 1,
        "count": count,
        "start_at": start_at,
        "stop_at": window[1],
        "out": str(out),
    }
    spec_path = out.with_suffix(".json")
    spec_path.write_text(json.dumps(spec))
    client = procs.start(
        "client",
        [sys.executable, str(Path(__file__).resolve()), "--client-spec", str(spec_path)],
        cwd=ROOT,
    )
    groups_cpu, load, checkpoints = {}, None, None
    try:
        if cpu is not None:
            cpu.groups["client"] = [client.pid]
        time.sleep(max(0.0, window[0] - time.monotonic()))
        before = cpu.snapshot() if cpu else None
        bgwriter = _bgwriter()
        if on_window:
            on_window()
        time.sleep(max(0.0, window[1] - time.monotonic()))
        if cpu is not None:
            after = cpu.snapshot()
            groups_cpu = {k: after[k] - before[k] for k in after}
        checkpoints = tuple(b - a for a, b in zip(bgwriter, _bgwriter(), strict=True))
        load = os.getloadavg()
        client.wait(timeout=args.give_up + 60)
        if client.returncode != 0:
            raise RuntimeError(f"client process exited with {client.returncode}")
        with open(out, "rb") as f:
            results = pickle.load(f)
    finally:
        procs.stop(client)
        procs.procs = [(n, p) for n, p in procs.procs if p is not client]
        out.unlink(missing_ok=True)
        spec_path.unlink(missing_ok=True)
    return {
        "mode": mode,
        "count": count,
        "window": window,
        "duration": duration,
        "results": results,
        "cpu": groups_cpu,
        "load": load,
        "pg_other": sampler.cpu_of("other", *window) if sampler else 0.0,
        "pg_background": sampler.cpu_of("background", *window) if sampler else 0.0,
        "connections": sampler.peak(window[0], window[1] + 2) if sampler else None,
        "waits": sampler.wait_events(*window) if sampler else [],
        "checkpoints": checkpoints,
    }


def _bgwriter() -> tuple[int, int, int]:
    """PostgreSQL's checkpoints so far (timed + requested), the buffers they wrote, and
    their sync time in ms (whole server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint, "
            "checkpoint_sync_time::bigint FROM pg_stat_bgwriter"
        )
        return tuple(cursor.fetchone())


def cpu_rows(table: Table, run: dict) -> None:
    cpu = run["cpu"]
    if not cpu:
        return
    cores, wall = os.cpu_count() or 1, run["duration"]
    pg_other, pg_background = run["pg_other"], run["pg_background"]
    pg_ours = cpu.get("postgres", 0.0) - pg_other - pg_background
    rows = [
        ("gunicorn (master + workers)", cpu.get("gunicorn", 0.0)),
        ("Celery (master + pool)", cpu.get("celery", 0.0)),
        ("sequencer", cpu.get("sequencer", 0.0)),
        ("PostgreSQL backends of this database", pg_ours),
        ("PostgreSQL background (WAL writer, checkpointer...)", pg_background),
        ("Redis", cpu.get("redis", 0.0)),
        ("client (aiohttp)", cpu.get("client", 0.0)),
        ("this benchmark process (samplers)", cpu.get("bench", 0.0)),
    ]
    mine = sum(v for _, v in rows)
    table.add("CPU over the window: core-seconds, share of the 2 cores", "")
    for label, value in rows:
        table.add(f"  {label}", _cpu_cell(value, wall, cores))
    table.add("  PostgreSQL backends of other databases", _cpu_cell(pg_other, wall, cores))
    table.add(
        "  everything else (other processes, kernel)",
        _cpu_cell(cpu["_busy"] - mine - pg_other, wall, cores),
    )
    table.add("  machine busy", _cpu_cell(cpu["_busy"], wall, cores))


def analyse_verifications(
    args, run: dict, ledger: dict, title: str, target: bool = True
) -> tuple[Table, dict]:
    """Throughput, latency, where the latency goes, CPU, and a checked sample of results."""
    from anchoring import merkle
    from anchoring.models import Checkpoint
    from verification.models import Verification

    w0, w1 = run["window"]
    duration = run["duration"]
    results = run["results"]
    is_open = run["mode"] == "open"
    start_of = (lambda r: r[4]) if is_open else (lambda r: r[5])
    started = [r for r in results if w0 <= start_of(r) < w1]
    ok = [r for r in started if r[13] is None]
    failed = [r for r in started if r[13] is not None]
    done_in_window = [r for r in results if r[13] is None and w0 <= r[7] < w1]
    rate = len(done_in_window) / duration
    lat = [r[7] - start_of(r) for r in ok]
    p50 = pct(lat, 50) if lat else float("nan")
    # A verification that failed (gave up after --give-up s) counts as slower than any.
    p99 = pct(lat + [float("inf")] * len(failed), 99) if started else float("nan")
    polls = [r[10] for r in ok]

    table = Table(title)
    if is_open:
        table.add("offered: verifications started in the window", f"{len(started):,}")
        table.add("  offered rate", f"{len(started) / duration:,.1f} /s")
        lateness = [r[5] - r[4] for r in started]
        table.add(
            "  client start lateness vs schedule p50/p99/max",
            f"{pct(lateness, 50) * 1000:.1f} / {pct(lateness, 99) * 1000:.1f} / "
            f"{max(lateness) * 1000:.1f} ms",
        )
    table.add(
        "completed verifications/s (done answers in the window)",
        f"{rate:,.1f}",
        "" if is_open else f">= {TARGET_RATE}",
        "" if is_open else verdict(rate >= TARGET_RATE),
    )
    table.add("verifications started in the window, completed", f"{len(started):,}, {len(ok):,}")
    if failed:
        for message, n in Counter(r[13] for r in failed).most_common(3):
            table.add(f"  failed x{n}", message[:70])
    if lat:
        label = "latency from scheduled start" if is_open else "latency, submit to final result"
        table.add(f"{label} p50", f"{p50 * 1000:.1f} ms")
        table.add("  p90", f"{pct(lat, 90) * 1000:.1f} ms")
        table.add(
            "  p99" + (", failures counted as slowest" if failed else ""),
            ms(p99),
            f"< {TARGET_P99 * 1000:g} ms" if is_open and target else "",
            verdict(p99 < TARGET_P99) if is_open and target else "",
        )
        if failed:
            table.add("  p99 of the completed ones", f"{pct(lat, 99) * 1000:.1f} ms")
        table.add("  max", f"{max(lat) * 1000:.1f} ms")
        table.add("  mean", f"{statistics.fmean(lat) * 1000:.1f} ms")
        table.add(
            "GETs per verification (mean / max), poll interval",
            f"{statistics.fmean(polls):.2f} / {max(polls)}, {args.poll * 1000:g} ms",
        )
        requests = len(ok) + sum(polls)
        table.add("HTTP requests/s (POST + GET) in the window", f"{requests / duration:,.1f}")
        if not is_open:
            table.add(
                "  closed-loop ceiling: clients / mean latency",
                f"{run['count'] / statistics.fmean(lat):,.1f} /s",
            )

    # Where the latency goes, from the rows' timestamps (one clock for every process).
    ids = [r[11] for r in ok]
    stamps = {}
    for i in range(0, len(ids), 1000):
        for vid, created, started_at, finished in Verification.objects.filter(
            id__in=ids[i : i + 1000]
        ).values_list("id", "created_at", "started_at", "finished_at"):
            stamps[vid] = (created.timestamp(), started_at.timestamp(), finished.timestamp())
    if stamps:
        to_row, queued, task, seen = [], [], [], []
        for r in ok:
            created, started_at, finished = stamps[r[11]]
            sent_wall = r[8]
            done_wall = sent_wall + (r[7] - r[5])
            to_row.append(created - sent_wall)
            queued.append(started_at - created)
            task.append(finished - started_at)
            seen.append(done_wall - finished)

        def cell(values):
            return f"{pct(values, 50) * 1000:.1f} / {pct(values, 99) * 1000:.1f} ms"

        table.add("where it goes, p50 / p99:", "")
        table.add("  sent -> row created (HTTP, throttle, INSERT)", cell(to_row))
        table.add("  created -> task started (publish, Redis, Celery queue)", cell(queued))
        table.add("  task started -> finished (flow.run, steps saved)", cell(task))
        table.add("  finished -> client sees done (poll interval, GET)", cell(seen))
    ours, ours_active, total = run["connections"] or (0, 0, 0)
    table.add(
        "peak PostgreSQL connections: this db (active) / all",
        f"{ours} ({ours_active}) / {total} of {_show('max_connections')}",
    )
    waits = run.get("waits") or []
    if waits:
        table.add("active backends of this db (mean), all", f"{sum(n for _, n in waits):.1f}")
        for event, n in waits[:5]:
            table.add(f"  {event}", f"{n:.1f}")
    if run.get("checkpoints"):
        count, buffers, sync_ms = run["checkpoints"]
        table.add(
            "PostgreSQL checkpoints in the window (whole server): count, buffers, sync",
            f"{count}, {buffers:,}, {sync_ms:,} ms",
        )
    cpu_rows(table, run)
    if run.get("load"):
        table.add(
            "load average at the end of the window", " ".join(f"{x:.2f}" for x in run["load"])
        )

    # Check a sample of results (untimed).
    rng = random.Random(args.seed)
    sample = ok if not args.verify_sample else rng.sample(ok, min(len(ok), args.verify_sample))
    roots = {}
    counts = Counter()
    for r in sample:
        doc = json.loads(r[12])
        j = r[2]
        steps = {s["name"]: s for s in doc["steps"]}
        assert doc["status"] == "done" and doc["sha256"] == r[3], doc
        if j < 0:
            assert doc["outcome"] == "not_found", doc
            assert steps["lookup"]["status"] == "failed" and "inclusion" not in steps, doc
            counts["not_found"] += 1
            continue
        assert doc["outcome"] == "verified", doc
        for name in ("digest", "lookup", "leaf", "checkpoint", "inclusion", "consistency"):
            assert steps[name]["status"] == "passed", (name, doc)
        assert doc["ledger_index"] == ledger["index"][j], doc
        detail = steps["inclusion"]["detail"]
        size = detail["tree_size"]
        if size not in roots:
            roots[size] = bytes.fromhex(Checkpoint.objects.get(tree_size=size).root_hash.hex())
        assert steps["checkpoint"]["detail"]["root_hash"] == roots[size].hex(), doc
        merkle.verify_inclusion(
            merkle.leaf_hash(ledger["data"][j]),
            detail["index"],
            size,
            [bytes.fromhex(h) for h in detail["proof"]],
            roots[size],
        )
        if ledger["code"][j]:
            assert "record" in steps and doc["record"] is not None, doc
            assert doc["record"]["code"].replace("-", "") == ledger["code"][j], doc
            counts["verified (court record)"] += 1
        else:
            assert doc["record"] is None, doc
            counts["verified (anchor)"] += 1
    table.add("results checked, all as expected", f"{len(sample)} of {len(ok)}")
    table.add(
        "  verified (court record) / verified (anchor) / not_found",
        f"{counts['verified (court record)']} / {counts['verified (anchor)']} / "
        f"{counts['not_found']}",
    )
    return table, {"rate": rate, "p50": p50, "p99": p99, "failed": len(failed), "ok": len(ok)}


def _show(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def step_verify(args, ctx, results) -> None:
    digests = ctx["ledger"]["sha256"]
    best = None
    for count in args.clients:
        settle(ctx)
        note(f"closed loop: {count} clients, {args.warmup:g} s warm-up, {args.duration:g} s window")
        run = run_clients(
            args,
            ctx["procs"],
            mode="closed",
            port=ctx["port"],
            digests=digests,
            count=count,
            warmup=args.warmup,
            duration=args.duration,
            cpu=ctx["cpu"],
            sampler=ctx["sampler"],
        )
        table, figures = analyse_verifications(
            args,
            run,
            ctx["ledger"],
            f"1a. Verifications by digest, closed loop: {count} clients x {args.duration:g} s, "
            f"poll {args.poll * 1000:g} ms, {ctx['server']}",
        )
        table.print()
        results.setdefault("closed", []).append((count, figures))
        if best is None or figures["rate"] > best[1]["rate"]:
            best = (count, figures)
    if best:
        results["closed_best"] = best
    rates = [args.rate]
    for extra in args.extra_rates:
        if extra != "auto":
            rates.append(extra)
        elif best and best[1]["rate"] < args.rate and round(best[1]["rate"] / 2) >= 1:
            rates.append(float(round(best[1]["rate"] / 2)))
    for rate in rates:
        settle(ctx)
        note(
            f"open loop: {rate:g}/s offered, {args.warmup:g} s warm-up, "
            f"{args.open_duration:g} s window"
        )
        run = run_clients(
            args,
            ctx["procs"],
            mode="open",
            port=ctx["port"],
            digests=digests,
            count=1,
            warmup=args.warmup,
            duration=args.open_duration,
            cpu=ctx["cpu"],
            sampler=ctx["sampler"],
            rate=rate,
        )
        table, figures = analyse_verifications(
            args,
            run,
            ctx["ledger"],
            f"1b. Verifications by digest, open loop: {rate:g}/s offered for "
            f"{args.open_duration:g} s, poll {args.poll * 1000:g} ms, {ctx['server']}",
            target=rate == args.rate,
        )
        table.print()
        if rate == args.rate:
            results["open"] = figures
        else:
            results.setdefault("open_extra", []).append((rate, figures))
    settle(ctx)


def settle(ctx, timeout: float | None = None) -> None:
    """Wait until every verification is done: a backlog must not spill into the next run
    (--quick waits 10 s at most: a smoke test may carry a backlog over)."""
    from verification.models import Verification

    if timeout is None:
        timeout = 5.0 if ctx["quick"] else 180.0
    t0 = time.monotonic()
    left = Verification.objects.exclude(status=Verification.Status.DONE).count()
    while left and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        left = Verification.objects.exclude(status=Verification.Status.DONE).count()
    if time.monotonic() - t0 > 1:
        note(
            f"waited {time.monotonic() - t0:.0f} s for the backlog of verifications to finish"
            + (f" ({left:,} still not done)" if left else "")
        )


# --- 2. Upload --------------------------------------------------------------------------


def hashing_speeds(size: int) -> list[tuple[str, str]]:
    """MB/s of the digests over `size` bytes in 1 MiB chunks, in this process; and whether
    each hash lets other Python threads run (1.00: it releases the GIL, on a free core)."""
    from cryptography.hazmat.primitives import hashes

    from verification.intake import _ParallelDigests

    block = random.Random(1).randbytes(MiB)
    n = max(1, size // MiB)

    def sha_alone():
        h = hashlib.sha256()
        for _ in range(n):
            h.update(block)
        h.digest()

    def sm3_alone():
        h = hashes.Hash(hashes.SM3())
        for _ in range(n):
            h.update(block)
        h.finalize()

    def parallel():
        d = _ParallelDigests()
        for _ in range(n):
            d.update(block)
        d.finish()

    def sequential():
        sha, sm = hashlib.sha256(), hashes.Hash(hashes.SM3())
        for _ in range(n):
            sha.update(block)
            sm.update(block)
        sha.digest(), sm.finalize()

    def two_threads(fn):
        def run():
            threads = [threading.Thread(target=fn) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        return run

    def python_speed_beside(hash_factory) -> float:
        """A pure-Python loop's speed while another thread hashes, over its speed alone."""

        def spin(seconds: float) -> int:
            n, end = 0, time.perf_counter() + seconds
            while time.perf_counter() < end:
                n += 1
            return n

        alone = spin(0.5)
        stop = threading.Event()

        def hasher():
            h = hash_factory()
            while not stop.is_set():
                h.update(block)

        thread = threading.Thread(target=hasher)
        thread.start()
        try:
            beside = spin(0.5)
        finally:
            stop.set()
            thread.join()
        return beside / alone

    out = []
    for label, fn, factor in [
        ("SHA-256 alone (hashlib)", sha_alone, 1),
        ("SM3 alone (cryptography)", sm3_alone, 1),
        ("both in parallel (intake._ParallelDigests)", parallel, 1),
        ("both one after the other, per chunk", sequential, 1),
        ("SHA-256 in 2 threads at once (aggregate)", two_threads(sha_alone), 2),
        ("SM3 in 2 threads at once (aggregate)", two_threads(sm3_alone), 2),
    ]:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        out.append((label, f"{factor * n * MiB / dt / 1e6:,.1f} MB/s"))
    if "sm3" in hashlib.algorithms_available:
        h, t0 = hashlib.new("sm3"), time.perf_counter()
        for _ in range(n):
            h.update(block)
        h.digest()
        out.append(
            (
                "SM3 alone, hashlib.new('sm3') (OpenSSL through hashlib)",
                f"{n * MiB / (time.perf_counter() - t0) / 1e6:,.1f} MB/s",
            )
        )
    for label, factory in [
        ("SHA-256 (hashlib)", hashlib.sha256),
        ("SM3 (cryptography)", lambda: hashes.Hash(hashes.SM3())),
    ]:
        out.append(
            (
                f"GIL: a Python loop's speed while a thread hashes with {label}",
                f"{python_speed_beside(factory):.2f} of its speed alone",
            )
        )
    return out


class _Body:
    """A multipart body read like a request stream: the file part is one block repeated."""

    def __init__(self, boundary: bytes, block: bytes, size: int) -> None:
        head = (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        tail = b"\r\n--" + boundary + b"--\r\n"
        self.parts = [head, tail]
        self.block, self.size = block, size
        self.length = len(head) + size + len(tail)
        self.pos = 0  # in the whole body

    def read(self, n: int = -1) -> bytes:
        head, tail = self.parts
        out = []
        want = self.length - self.pos if n is None or n < 0 else n
        while want > 0 and self.pos < self.length:
            if self.pos < len(head):
                piece = head[self.pos : self.pos + want]
            elif self.pos < len(head) + self.size:
                offset = (self.pos - len(head)) % len(self.block)
                left = len(head) + self.size - self.pos
                piece = self.block[offset : offset + min(want, left)]
            else:
                offset = self.pos - len(head) - self.size
                piece = tail[offset : offset + want]
            out.append(piece)
            self.pos += len(piece)
            want -= len(piece)
        return b"".join(out)


def django_parse_speed(size: int) -> tuple[float, int]:
    """MB/s of Django's MultiPartParser with the DigestingUploadHandler, from memory."""
    from django.http.multipartparser import MultiPartParser

    from verification.intake import DigestingUploadHandler

    class Req:
        upload_too_large = False

    boundary = b"benchboundary7MA4YWxkTrZu0gW"
    body = _Body(boundary, random.Random(2).randbytes(MiB), size)
    meta = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary.decode()}",
        "CONTENT_LENGTH": str(body.length),
    }
    t0 = time.perf_counter()
    _, files = MultiPartParser(meta, body, [DigestingUploadHandler(Req())], "utf-8").parse()
    dt = time.perf_counter() - t0
    assert files["file"].size == size
    return size / dt / 1e6, files["file"].size


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0]) * (1024 if key != "Threads" else 1)
    except OSError:
        pass
    return out


class RssSampler(threading.Thread):
    """VmRSS of some processes every 2 ms, keeping the maximum of each."""

    PAGE = os.sysconf("SC_PAGE_SIZE")

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0)
        self.stop = threading.Event()

    def run(self) -> None:
        files = {}
        for pid in self.pids:
            with contextlib.suppress(OSError):
                files[pid] = open(f"/proc/{pid}/statm", "rb", buffering=0)  # noqa: SIM115
        try:
            while not self.stop.is_set():
                for pid, f in files.items():
                    with contextlib.suppress(OSError):
                        f.seek(0)
                        rss = int(f.read().split()[1]) * self.PAGE
                        if rss > self.peak[pid]:
                            self.peak[pid] = rss
                time.sleep(0.002)
        finally:
            for f in files.values():
                f.close()


def make_upload_file(args, size: int) -> tuple[Path, bytes, bytes]:
    """The file to upload, on disk, and its digests (written untimed)."""
    from cryptography.hazmat.primitives import hashes

    fd, name = tempfile.mkstemp(prefix="bench-verify-upload-", suffix=".bin")
    path = Path(name)
    sha, sm = hashlib.sha256(), hashes.Hash(hashes.SM3())
    with os.fdopen(fd, "wb") as f:
        if args.upload_sparse:
            f.truncate(size)
            zeros = bytes(MiB)
            for _ in range(size // MiB):
                sha.update(zeros)
                sm.update(zeros)
            rest = bytes(size % MiB)
            sha.update(rest)
            sm.update(rest)
        else:
            block = random.Random(args.seed).randbytes(64 * MiB)
            left = size
            while left:
                piece = block[: min(left, len(block))]
                f.write(piece)
                sha.update(piece)
                sm.update(piece)
                left -= len(piece)
    return path, sha.digest(), sm.finalize()


def cpu_seconds(pid: int) -> float:
    return Cpu._times(pid)[0]


def one_upload(
    port: int, path: Path, workers: list[int], procs: Processes, cpu: Cpu | None = None
) -> dict:
    """POST the file with curl; the workers' memory and CPU around it."""
    before = {pid: proc_status(pid) for pid in workers}
    reset = True
    for pid in workers:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        except OSError:
            reset = False
    hwm_before = {pid: proc_status(pid).get("VmHWM", 0) for pid in workers}
    cpu_before = {pid: cpu_seconds(pid) for pid in workers}
    sampler = RssSampler(workers)
    sampler.start()
    out = Path(tempfile.mkstemp(prefix="bench-verify-upload-", suffix=".json")[1])
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = cpu.snapshot()["_busy"] if cpu else None
    t0 = time.perf_counter()
    curl = procs.start(
        "curl",
        [
            "curl",
            "-sS",
            "-o",
            str(out),
            "-w",
            "%{http_code} %{time_total} %{size_upload}",
            "-H",
            "Expect:",  # no 100-continue round trip
            "-F",
            f"file=@{path};type=application/octet-stream;filename=bench.bin",
            f"http://127.0.0.1:{port}{API}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = curl.communicate(timeout=600)
    finally:
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
        procs.procs = [(n, p) for n, p in procs.procs if p is not curl]
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = cpu.snapshot()["_busy"] - busy0 if cpu else None
    after = {pid: proc_status(pid) for pid in workers}
    cpu_used = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in workers}
    pid = max(workers, key=lambda p: cpu_used[p])  # the worker that received it
    code, curl_time, sent = (stdout.decode().split() + ["0", "0", "0"])[:3]
    body = out.read_text(errors="replace")
    out.unlink(missing_ok=True)
    return {
        "status": int(code),
        "curl_time": float(curl_time),
        "sent": int(float(sent)),
        "wall": wall,
        "body": body,
        "stderr": stderr.decode(errors="replace"),
        "pid": pid,
        "rss_before": before[pid].get("VmRSS", 0),
        "hwm_before": hwm_before[pid],
        "hwm_after": after[pid].get("VmHWM", 0),
        "rss_after": after[pid].get("VmRSS", 0),
        "sampled_peak": sampler.peak[pid],
        "threads_before": before[pid].get("Threads", 0),
        "threads_after": after[pid].get("Threads", 0),
        "reset": reset,
        "worker_cpu": cpu_used[pid],
        "curl_cpu": (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime),
        "busy": busy,
    }


def aborted_uploads(ctx, path: Path, count: int) -> dict:
    """Start uploads and kill the client after 1 s; what stays behind in the workers."""
    workers, procs = ctx["workers"], ctx["procs"]
    before = {pid: proc_status(pid) for pid in workers}
    answers = 0
    for _ in range(count):
        curl = procs.start(
            "curl",
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-H",
                "Expect:",
                "--limit-rate",
                "50M",
                "-F",
                f"file=@{path};type=application/octet-stream;filename=bench.bin",
                f"http://127.0.0.1:{ctx['port']}{API}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
        answers += curl.poll() is not None
        procs.stop(curl, signal.SIGKILL)
        procs.procs = [(n, p) for n, p in procs.procs if p is not curl]
    time.sleep(2.0)  # the worker notices the closed connection and ends the request
    after = {pid: proc_status(pid) for pid in workers}
    return {
        "count": count,
        "finished_early": answers,
        "threads_before": sum(b.get("Threads", 0) for b in before.values()),
        "threads_after": sum(a.get("Threads", 0) for a in after.values()),
        "rss_before": sum(b.get("VmRSS", 0) for b in before.values()),
        "rss_after": sum(a.get("VmRSS", 0) for a in after.values()),
    }


def step_upload(args, ctx, results) -> None:
    settle(ctx)
    size = args.upload_size
    note(f"hashing {size_text(args.hash_size)} in-process, each way (untimed setup)")
    speeds = hashing_speeds(args.hash_size)
    parse_speed, _ = django_parse_speed(min(size, args.hash_size))
    note(
        f"writing the {size_text(size)} upload file "
        f"({'sparse' if args.upload_sparse else 'random'})"
    )
    path, sha, sm = make_upload_file(args, size)
    uploads = []
    try:
        for n in range(args.uploads):
            up = one_upload(ctx["port"], path, ctx["workers"], ctx["procs"], ctx["cpu"])
            uploads.append(up)
            if up["status"] != 202:
                raise RuntimeError(
                    f"upload answered {up['status']}: {up['body'][:300]} {up['stderr']}"
                )
            doc = json.loads(up["body"])
            assert doc["sha256"] == sha.hex() and doc["sm3"] == sm.hex(), "digests differ"
            up["outcome"] = wait_done(ctx["port"], doc["id"])["outcome"]
            note(
                f"upload {n + 1}: {size / up['curl_time'] / 1e6:,.1f} MB/s, worker peak "
                f"+{(up['hwm_after'] - up['rss_before']) / MiB:.1f} MiB"
            )
        profile_upload = args.profile == "always" or (
            args.profile == "auto"
            and (
                max(size / u["curl_time"] / 1e6 for u in uploads) < TARGET_UPLOAD
                or max(u["hwm_after"] - u["rss_before"] for u in uploads) >= TARGET_MEMORY
            )
        )
        if profile_upload:
            profile_upload_run(args, ctx, path)
        # Last: each cut-off upload may leave a thread behind in a worker.
        aborted = aborted_uploads(ctx, path, args.aborts) if args.aborts else None
    finally:
        path.unlink(missing_ok=True)

    table = Table(
        f"2. Upload of {size_text(size)} ({'sparse' if args.upload_sparse else 'random'} file, "
        f"curl -F file=@...), POST {API}, {ctx['server']}"
    )
    rates = [size / u["curl_time"] / 1e6 for u in uploads]
    growth = [u["hwm_after"] - u["rss_before"] for u in uploads]
    best = max(rates)
    for n, (u, r, g) in enumerate(zip(uploads, rates, growth, strict=True), 1):
        table.add(
            f"upload {n}: wall (curl time_total) -> MB/s",
            f"{u['curl_time']:.2f} s -> {r:,.1f} MB/s ({size / u['curl_time'] / MiB:,.1f} MiB/s)",
        )
        table.add(
            "  worker RSS before -> peak (VmHWM) -> after",
            f"{u['rss_before'] / MiB:.1f} -> {u['hwm_after'] / MiB:.1f} -> "
            f"{u['rss_after'] / MiB:.1f} MiB",
        )
        table.add(
            "  peak growth: VmHWM / sampled VmRSS (2 ms)",
            f"+{g / MiB:.1f} / +{(u['sampled_peak'] - u['rss_before']) / MiB:.1f} MiB",
        )
        table.add(
            "  CPU: receiving worker / curl (cores over the upload)",
            f"{u['worker_cpu']:.2f} s ({u['worker_cpu'] / u['curl_time']:.2f}) / "
            f"{u['curl_cpu']:.2f} s ({u['curl_cpu'] / u['curl_time']:.2f})",
        )
        if u["busy"] is not None:
            rest = max(0.0, u["busy"] - u["worker_cpu"] - u["curl_cpu"])
            table.add(
                "  machine busy / of which not the worker nor curl (cores)",
                f"{u['busy'] / u['curl_time']:.2f} / {rest / u['curl_time']:.2f}",
            )
        table.add(
            "  worker threads before / after; answer",
            f"{u['threads_before']} / {u['threads_after']}; 202, digests equal, {u['outcome']}",
        )
    table.add(
        "best upload throughput",
        f"{best:,.1f} MB/s",
        f">= {TARGET_UPLOAD} MB/s",
        verdict(best >= TARGET_UPLOAD),
    )
    table.add(
        "median upload throughput",
        f"{statistics.median(rates):,.1f} MB/s",
        f">= {TARGET_UPLOAD} MB/s",
        verdict(statistics.median(rates) >= TARGET_UPLOAD),
    )
    table.add(
        "largest peak memory growth",
        f"{max(growth) / MiB:.1f} MiB",
        f"< {TARGET_MEMORY // MiB} MiB",
        verdict(max(growth) < TARGET_MEMORY),
    )
    if not uploads[0]["reset"]:
        table.add("  (VmHWM could not be reset: growth is against the process's old peak)", "")
    if aborted:
        table.add(
            f"{aborted['count']} uploads cut off after 1 s: threads in the workers before / after",
            f"{aborted['threads_before']} / {aborted['threads_after']}",
        )
        table.add(
            "  workers' RSS before / after",
            f"{aborted['rss_before'] / MiB:.1f} / {aborted['rss_after'] / MiB:.1f} MiB",
        )
    table.add(f"in-process hashing, 1 MiB chunks, {size_text(args.hash_size)}:", "")
    for label, value in speeds:
        table.add(f"  {label}", value)
    table.add(
        f"  Django MultiPartParser + DigestingUploadHandler, from memory "
        f"({size_text(min(size, args.hash_size))})",
        f"{parse_speed:,.1f} MB/s",
    )
    table.print()
    results["upload"] = (best, statistics.median(rates), max(growth))
    results["hashing"] = speeds


def ms(seconds: float) -> str:
    return "failed (gave up)" if seconds == float("inf") else f"{seconds * 1000:.1f} ms"


def size_text(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


# --- 3. Health --------------------------------------------------------------------------


def step_health(args, ctx, results) -> None:
    note(f"GET /health: {args.health_clients} clients for {args.health_duration:g} s")
    run = run_clients(
        args,
        ctx["procs"],
        mode="health",
        port=ctx["port"],
        digests=[],
        count=args.health_clients,
        warmup=1.0,
        duration=args.health_duration,
        cpu=ctx["cpu"],
        sampler=ctx["sampler"],
    )
    w0, w1 = run["window"]
    rows = [r for r in run["results"] if w0 <= r[3] < w1]
    good = [r for r in rows if r[4] == 200]
    lat = [r[3] - r[2] for r in good]
    rate = len(good) / run["duration"]
    table = Table(
        f"3. GET /health: {args.health_clients} clients x {args.health_duration:g} s, "
        f"{ctx['server']}"
    )
    table.add("requests/s (200 answers in the window)", f"{rate:,.1f}")
    table.add(
        "answers by status",
        ", ".join(
            f"{s or 'no answer'}: {n:,}" for s, n in sorted(Counter(r[4] for r in rows).items())
        ),
    )
    if lat:
        table.add("latency p50 / p99", f"{pct(lat, 50) * 1000:.1f} / {pct(lat, 99) * 1000:.1f} ms")
    ours, ours_active, total = run["connections"] or (0, 0, 0)
    table.add(
        "peak PostgreSQL connections: this db (active) / all",
        f"{ours} ({ours_active}) / {total} of {_show('max_connections')}",
    )
    cpu_rows(table, run)
    table.print()
    results["health"] = rate


# --- Profiles (py-spy, untimed) ---------------------------------------------------------


PROJECT = ("verification/", "anchoring/", "documents/", "portal/")


def _short(path: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


GUNICORN_PARTS = [
    (
        "throttle (ScopedRateThrottle: cache get + set in Redis)",
        lambda f: _has(f, "check_throttles"),
    ),
    (
        "POST: verify.delay, publishing the task (Celery, kombu, Redis)",
        lambda f: _has(f, "apply_async") or _has(f, "delay", "celery/"),
    ),
    (
        "POST: INSERT the verification (intake.start)",
        lambda f: _has(f, "start", "verification/intake.py"),
    ),
    ("POST: refresh_from_db", lambda f: _has(f, "refresh_from_db")),
    (
        "result_json (steps query, record face, build_absolute_uri)",
        lambda f: _has(f, "result_json"),
    ),
    ("GET: SELECT the verification (+ record, court)", lambda f: _has(f, "VerificationView.get")),
    (
        "POST: JSON parsing and digest checks",
        lambda f: _has(f, "VerificationsView.post") or _has(f, "Request._load_data_and_files"),
    ),
    (
        "DRF response rendering (JSON)",
        lambda f: _has(f, "rendered_content") or _has(f, "render", "rest_framework/renderers"),
    ),
    ("request_started/finished: close_old_connections", lambda f: _has(f, "close_old_connections")),
    ("rest of the DRF view (dispatch, initial)", lambda f: _has(f, "APIView.dispatch")),
    (
        "rest of Django (WSGI handler, middleware, URL resolving)",
        lambda f: _has(f, "WSGIHandler.__call__"),
    ),
    (
        "gunicorn (HTTP parsing, sockets, event loop)",
        lambda f: any(fl.startswith("gunicorn/") for _, fl, _ in f),
    ),
    (
        "thread pool hand-off (concurrent.futures)",
        lambda f: any("concurrent/futures" in fl for _, fl, _ in f),
    ),
]

CELERY_PARTS = [
    ("Celery closing the connection after each task (fixup)", lambda f: _has(f, "close_database")),
    ("flow: entries_by_digest (tree_size, SELECT entries)", lambda f: _has(f, "entries_by_digest")),
    ("flow: _choose (leaf decode, SELECT record + court)", lambda f: _has(f, "_choose")),
    ("flow: pinned_verifier (log key)", lambda f: _has(f, "pinned_verifier")),
    ("flow: latest_checkpoint SELECT", lambda f: _has(f, "latest_checkpoint")),
    ("flow: checkpoint_step (signature verification)", lambda f: _has(f, "checkpoint_step")),
    ("flow: inclusion_proof (tiles)", lambda f: _has(f, "inclusion_proof")),
    ("flow: inclusion_step (verify proof)", lambda f: _has(f, "inclusion_step")),
    (
        "flow: consistency (_trusted, proof, _trust get_or_create)",
        lambda f: (
            _has(f, "_trusted")
            or _has(f, "consistency_proof")
            or _has(f, "_trust")
            or _has(f, "consistency_step")
        ),
    ),
    ("flow: leaf_step, digest_step", lambda f: _has(f, "leaf_step") or _has(f, "digest_step")),
    ("flow: _service_steps", lambda f: _has(f, "_service_steps")),
    (
        "tasks._save (DELETE steps, INSERT steps, UPDATE)",
        lambda f: _has(f, "_save", "verification/tasks.py"),
    ),
    ("rest of flow.run", lambda f: _has(f, "run", "verification/flow.py")),
    (
        "task: SELECT, UPDATE status=running, get_backend",
        lambda f: _has(f, "verify", "verification/tasks.py"),
    ),
    (
        "Celery / kombu / billiard (receive, ack, pool)",
        lambda f: any(
            fl.startswith(("celery/", "kombu/", "billiard/", "redis/")) for _, fl, _ in f
        ),
    ),
]

EXTRA_KINDS = [
    ("Redis client (redis-py)", lambda f: any(fl.startswith("redis/") for _, fl, _ in f)),
    ("JSON encode/decode", lambda f: any(fl.startswith("json/") for _, fl, _ in f)),
]


def _classify(stacks, rules) -> Counter:
    parts: Counter = Counter()
    for frames, n in stacks:
        for label, match in rules:
            if match(frames):
                parts[label] += n
                break
        else:
            parts["other"] += n
    return parts


def profile_report(label: str, stacks, parts=None, top: int = 20) -> None:
    stacks = [([(fn, _short(fl), ln) for fn, fl, ln in frames], n) for frames, n in stacks]
    total = sum(n for _, n in stacks)
    if not total:
        print(f"\n  {label}: no samples")
        return
    print(f"\n  {label}: {total:,} samples")
    incl: Counter = Counter()
    self_fn: Counter = Counter()
    for frames, n in stacks:
        seen = set()
        for func, file, line in frames:
            if file.startswith(PROJECT):
                key = f"{file}:{line} {func}"
                if key not in seen:
                    seen.add(key)
                    incl[key] += n
        if frames:
            func, file, line = frames[-1]
            self_fn[f"{file} {func}"] += n
    if parts:
        print("    by part (each sample counted once, first rule that matches):")
        for key, n in sorted(_classify(stacks, parts).items(), key=lambda kv: -kv[1]):
            print(f"      {n / total * 100:5.1f}%  {key}")
        print("    by kind of work, across the parts (a sample can count in several):")
        for key, match in [*KINDS[:4], *EXTRA_KINDS]:
            n = sum(c for frames, c in stacks if match(frames))
            print(f"      {n / total * 100:5.1f}%  {key}")
    print(f"    inclusive, by line of the project's code (top {top}):")
    for key, n in incl.most_common(top):
        print(f"      {n / total * 100:5.1f}%  {key}")
    print(f"    self time, by function (top {top}):")
    for key, n in self_fn.most_common(top):
        print(f"      {n / total * 100:5.1f}%  {key}")


def start_spies(procs, spy, targets: dict[str, int], duration: float, extra=()) -> dict[str, Path]:
    out = {}
    for label, pid in targets.items():
        path = Path(tempfile.mkstemp(prefix="bench-verify-spy-", suffix=".txt")[1])
        out[label] = path
        procs.start(
            "py-spy",
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(duration)),
                "--rate",
                "100",
                *extra,
                "--format",
                "raw",
                "--output",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return out


def wait_spies(procs) -> None:
    for name, p in list(procs.procs):
        if name == "py-spy":
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=60)
    procs.procs = [(n, p) for n, p in procs.procs if n != "py-spy"]


def profile_verify(args, ctx, count: int) -> None:
    spy = py_spy()
    if spy is None:
        print("\nProfile skipped: py-spy not found (pip install py-spy)")
        return
    pool_pids = sorted(children(ctx["celery"].pid)) if args.celery_pool == "prefork" else []
    targets = {f"gunicorn worker {n}": pid for n, pid in enumerate(ctx["workers"], 1)}
    targets |= {f"celery pool {n}": pid for n, pid in enumerate(pool_pids, 1)}
    if not pool_pids:
        targets["celery"] = ctx["celery"].pid
    print(
        f"\nProfile: the closed loop again ({count} clients), py-spy sampling every gunicorn "
        f"worker and Celery process for {args.profile_duration:g} s at 100 Hz, only the thread "
        "holding the GIL (py-spy --gil). Untimed: py-spy pauses each process to sample it, so "
        "its figures are shares, not times"
    )
    files: dict[str, Path] = {}

    def go():
        files.update(start_spies(ctx["procs"], spy, targets, args.profile_duration, ["--gil"]))

    run_clients(
        args,
        ctx["procs"],
        mode="closed",
        port=ctx["port"],
        digests=ctx["ledger"]["sha256"],
        count=count,
        warmup=2.0,
        duration=args.profile_duration + 1,
        on_window=go,
    )
    wait_spies(ctx["procs"])
    gunicorn_stacks, celery_stacks = [], []
    for label, path in files.items():
        stacks = read_stacks(path) if path.exists() else []
        note(f"{label}: {sum(c for _, c in stacks):,} samples")
        (gunicorn_stacks if label.startswith("gunicorn") else celery_stacks).extend(stacks)
        path.unlink(missing_ok=True)
    profile_report("gunicorn workers (together)", gunicorn_stacks, GUNICORN_PARTS)
    profile_report("Celery worker processes (together)", celery_stacks, CELERY_PARTS)
    try:
        statement_counts(ctx)
    except Exception as exc:  # a figure lost, not the run
        print(f"\n  SQL statements not counted: {type(exc).__name__}: {exc}")
    try:
        keep, keep_pg, fresh, fresh_pg = connection_cost()
    except Exception as exc:
        print(f"\n  connection cost not measured: {type(exc).__name__}: {exc}")
        return
    print(
        "\n  One indexed SELECT, 200 times from this process (PostgreSQL CPU is the whole "
        "server's over the loop, other sessions included):\n"
        f"    on one open connection:         {keep:6.2f} ms each, PostgreSQL CPU "
        f"{keep_pg:5.2f} ms each\n"
        f"    on a new connection each time:  {fresh:6.2f} ms each, PostgreSQL CPU "
        f"{fresh_pg:5.2f} ms each\n"
        "    (CONN_MAX_AGE=0: every HTTP request opens one; Celery's Django fixup closes the "
        "task's connection before and after every task whatever CONN_MAX_AGE says)"
    )


def statement_counts(ctx) -> None:
    """SQL statements of each part of a verification, counted in-process (untimed)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from verification.models import Verification
    from verification.tasks import verify

    ledger = ctx["ledger"]
    record = next(i for i, c in enumerate(ledger["code"]) if c)
    anchor = next(i for i, c in enumerate(ledger["code"]) if not c)
    client = Client(HTTP_HOST="127.0.0.1")

    def kinds(queries) -> str:
        verbs = Counter(q["sql"].split()[0].upper() for q in queries)
        return ", ".join(f"{n} {v}" for v, n in verbs.most_common())

    print("\n  SQL statements per part of a verification (Django's test Client and the task run")
    print("  in this process; each write outside a transaction.atomic block is its own commit):")
    with CaptureQueriesContext(connection) as q:
        response = client.post(API, {"sha256": ledger["sha256"][anchor]}, "application/json")
    print(f"    POST {API} (digest): {len(q)} ({kinds(q)})")
    vid = response.json()["id"]
    pending = Verification.objects.create(sha256="0" * 64, source="digest", status="pending")
    with CaptureQueriesContext(connection) as q:
        client.get(f"{API}/{pending.pk}")
    print(f"    GET {API}/<id>, still pending: {len(q)} ({kinds(q)})")
    Verification.objects.filter(pk=pending.pk).update(status="done", outcome="not_found")
    deadline = time.monotonic() + 30
    while (
        Verification.objects.filter(pk=vid).exclude(status="done").exists()
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    for label, j in (("anchor", anchor), ("court record", record)):
        v = Verification.objects.create(sha256=ledger["sha256"][j], source="digest")
        with CaptureQueriesContext(connection) as q:
            verify.run(v.pk)
        print(f"    the task, found ({label}): {len(q)} ({kinds(q)})")
        for query in q.captured_queries:
            print(f"      {' '.join(query['sql'].split())[:110]}")
        with CaptureQueriesContext(connection) as q:
            client.get(f"{API}/{v.pk}")
        print(f"    GET {API}/<id>, done ({label}): {len(q)} ({kinds(q)})")
    v = Verification.objects.create(sha256="1" * 64, source="digest")
    with CaptureQueriesContext(connection) as q:
        verify.run(v.pk)
    print(f"    the task, not found: {len(q)} ({kinds(q)})")


def read_thread_stacks(path: Path) -> list[tuple[str, list[tuple[str, str, int]], int]]:
    """py-spy --threads raw output: (thread, frames root first, count) per line."""
    frame = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
    out = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not (stack and count.isdigit()):
            continue
        thread, frames = "", []
        for raw in stack.split(";"):
            m = frame.match(raw)
            if m:
                frames.append((m["func"], _short(m["file"]), int(m["line"])))
            elif raw.startswith("thread ("):
                thread = raw
        out.append((thread, frames, int(count)))
    return out


def profile_upload_run(args, ctx, path: Path) -> None:
    spy = py_spy()
    if spy is None:
        print("\nProfile skipped: py-spy not found (pip install py-spy)")
        return
    print(
        "\nProfile: one more upload, py-spy sampling the receiving gunicorn worker at 100 Hz, "
        "every thread, idle or not (py-spy --threads --idle --nonblocking). Untimed; what each "
        "of the two threads that do the work was doing, as a share of the upload's samples"
    )
    targets = {f"gunicorn worker {n}": pid for n, pid in enumerate(ctx["workers"], 1)}
    duration = max(5, int(args.upload_size / 100e6) + 3)
    files = start_spies(
        ctx["procs"], spy, targets, duration, ["--threads", "--idle", "--nonblocking"]
    )
    time.sleep(1.0)
    up = one_upload(ctx["port"], path, ctx["workers"], ctx["procs"])
    note(f"profiled upload: {args.upload_size / up['curl_time'] / 1e6:,.1f} MB/s (py-spy attached)")
    wait_spies(ctx["procs"])
    for label, file in files.items():
        stacks = read_thread_stacks(file) if file.exists() else []
        file.unlink(missing_ok=True)
        profile_upload_report(label, stacks)


def _upload_state(frames) -> str:
    leaf = frames[-1] if frames else ("", "", 0)
    if _has(frames, "_sha_update"):
        return f"hashing: sha.update (intake.py:{leaf[2]})"
    if _has(frames, "update", "verification/intake.py"):
        if leaf[1] == "verification/intake.py":
            return f"SM3: sm.update (intake.py:{leaf[2]})"
        return "waiting for the previous chunk's SHA-256 (intake.py update)"
    if _has(frames, "finish", "verification/intake.py"):
        return "waiting for SHA-256 to finish (intake.py finish)"
    if any(fl.startswith("gunicorn/http/unreader") for _, fl, _ in frames) and leaf[0].endswith(
        "chunk"
    ):
        return "reading the socket: recv (gunicorn unreader.py)"
    if any(fl.startswith("gunicorn/http") for _, fl, _ in frames):
        return "gunicorn body reader (copying, buffering)"
    if any("multipartparser" in fl for _, fl, _ in frames):
        return f"Django multipart parsing ({leaf[1]}:{leaf[2]} {leaf[0]})"
    if _has(frames, "WSGIHandler.__call__"):
        return "rest of Django / DRF"
    return f"other ({leaf[1]}:{leaf[2]} {leaf[0]})"


def profile_upload_report(label: str, stacks) -> None:
    """Per thread of the upload (the request thread, the SHA-256 thread): its states."""
    request = {t for t, f, _ in stacks if _has(f, "receive_data_chunk") or _has(f, "_parse")}
    hasher = {t for t, f, _ in stacks if _has(f, "_sha_update")}
    if not request:
        return
    print(f"\n  {label}:")
    for role, threads in (("request thread", request), ("SHA-256 thread", hasher)):
        rows = [(f, n) for t, f, n in stacks if t in threads]
        if role == "request thread":  # only while it handled the upload
            rows = [
                (f, n) for f, n in rows if _has(f, "VerificationsView.post") or _has(f, "_parse")
            ]
        total = sum(n for _, n in rows)
        if not total:
            continue
        states = Counter()
        for frames, n in rows:
            states[_upload_state(frames)] += n
        print(f"    {role} ({len(threads)} thread(s)), {total:,} samples:")
        for key, n in states.most_common(10):
            print(f"      {n / total * 100:5.1f}%  {key}")


def redis_pid() -> int | None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].split(b"/")[-1].startswith(b"redis-server"):
            return int(cmdline.parent.name)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--celery-worker"]:
        return celery_worker_main(int(argv[1]), argv[2:])
    args = parse_args(argv)
    if args.client_spec:
        return client_main(args.client_spec)

    started = time.perf_counter()
    import redis

    lock_benchmark(args.database_url)
    pg_version = recreate_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    setup_django(args)
    from django.conf import settings
    from django.db import connection

    print("Public verification benchmark" + (" (--quick)" if args.quick else ""))
    for line in machine():
        print("  " + line)
    print(
        f"  postgresql: {pg_version} (shared_buffers {_show('shared_buffers')}, "
        f"synchronous_commit {_show('synchronous_commit')}, "
        f"max_connections {_show('max_connections')})"
    )
    db = urlsplit(args.database_url)
    print(f"  database: {db.hostname}:{db.port or 5432}/{db.path.lstrip('/')} (recreated)")
    conn_max_age = args.conn_max_age
    if conn_max_age is None:
        conn_max_age = f"{settings.DATABASES['default']['CONN_MAX_AGE']} (project default)"
    import aiohttp
    import celery
    import gunicorn

    pool_size = getattr(settings, "DATABASE_POOL_SIZE", 0)
    print(
        f"  broker and throttle cache: {args.redis_url} (flushed); VERIFY_RATE "
        f"{settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['verifications']}; "
        f"CONN_MAX_AGE {conn_max_age}; DATABASE_POOL_SIZE {pool_size or 'off'}"
        + ("" if args.pool_size is not None else " (project default)")
    )
    print(
        f"  gunicorn {gunicorn.__version__}, celery {celery.__version__}, "
        f"aiohttp {aiohttp.__version__} (client), curl (upload client)"
    )
    print("  load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"  options: {vars(args)}", flush=True)

    ledger = prepare_ledger(args)
    procs = Processes()
    sampler = PgSampler(args.database_url, postmaster_pid())
    sampler.exclude.add(connection.connection.info.backend_pid)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    for s in previous:
        signal.signal(s, terminate)
    results: dict = {}
    logs: list[Path] = []
    quiet = ""
    try:
        port, glog, gunicorn_proc, seq_log = start_server(args, procs, settings)
        logs += [glog, seq_log]
        celery_proc, clog = start_celery(args, procs)
        logs.append(clog)
        seq_proc = next(p for n, p in procs.procs if n == "sequencer")
        workers = sorted(children(gunicorn_proc.pid))
        warm_up(port, ledger, clog)
        pool_pids = sorted(children(celery_proc.pid))
        server = (
            f"gunicorn {args.workers} x {args.worker_class} {args.threads} threads, Celery "
            f"{args.celery_pool} x {args.celery_concurrency}"
            + (f", CONN_MAX_AGE {args.conn_max_age}" if args.conn_max_age is not None else "")
            + (f", DATABASE_POOL_SIZE {args.pool_size}" if args.pool_size else "")
            + (
                f", CELERY_DB_REUSE_MAX {args.celery_db_reuse_max}"
                if args.celery_db_reuse_max
                else ""
            )
        )
        note(
            f"gunicorn on 127.0.0.1:{port} (worker pids {workers}), Celery pid "
            f"{celery_proc.pid} (pool {pool_pids}), sequencer pid {seq_proc.pid}"
        )
        note(
            f"PostgreSQL connections at most: gunicorn {args.workers * args.threads}, Celery "
            f"{args.celery_concurrency}, sequencer 1, this benchmark 3 (max_connections "
            f"{_show('max_connections')})"
        )
        groups = {
            "gunicorn": gunicorn_proc.pid,
            "celery": celery_proc.pid,
            "sequencer": seq_proc.pid,
            "postgres": postmaster_pid() or [],
            "redis": [p for p in [redis_pid()] if p],
            "bench": [os.getpid()],
        }
        cpu = Cpu(groups)
        sampler.start()
        quiet = wait_for_quiet(args)
        print(f"  machine: {quiet}", flush=True)
        ctx = {
            "procs": procs,
            "port": port,
            "workers": workers,
            "celery": celery_proc,
            "ledger": ledger,
            "cpu": cpu,
            "sampler": sampler,
            "server": server,
            "quick": args.quick,
        }
        if 1 in args.steps:
            step_verify(args, ctx, results)
        if 2 in args.steps:
            step_upload(args, ctx, results)
        if 3 in args.steps:
            step_health(args, ctx, results)
        missed = ("closed_best" in results and results["closed_best"][1]["rate"] < TARGET_RATE) or (
            "open" in results and not results["open"]["p99"] < TARGET_P99
        )
        if 1 in args.steps and (args.profile == "always" or (args.profile == "auto" and missed)):
            profile_verify(args, ctx, results.get("closed_best", (max(args.clients),))[0])
        for label, log in (("Celery", clog), ("sequencer", seq_log), ("gunicorn", glog)):
            text = log.read_text(errors="replace").strip()
            lines = [x for x in text.splitlines() if x.strip()]
            if lines:
                print(f"  {label} stderr (last lines):\n    " + "\n    ".join(lines[-6:]))
    finally:
        sampler.stop.set()
        procs.stop_all()
        for s, handler in previous.items():
            signal.signal(s, handler)
        for log in logs:
            log.unlink(missing_ok=True)

    summary = Table("Summary against the targets")
    if "closed_best" in results:
        count, r = results["closed_best"]
        summary.add(
            f"verifications/s by digest, closed loop (best: {count} clients)",
            f"{r['rate']:,.1f}",
            f">= {TARGET_RATE}",
            verdict(r["rate"] >= TARGET_RATE),
        )
    if "open" in results:
        r = results["open"]
        summary.add(
            f"latency p99 at {args.rate:g}/s offered (open loop)",
            ms(r["p99"]),
            f"< {TARGET_P99 * 1000:g} ms",
            verdict(r["p99"] < TARGET_P99),
        )
        summary.add(f"latency p50 at {args.rate:g}/s offered", ms(r["p50"]))
        if r["failed"]:
            summary.add(
                f"  verifications that gave up after {args.give_up:g} s",
                f"{r['failed']:,} of {r['failed'] + r['ok']:,}",
            )
    for rate, r in results.get("open_extra", []):
        summary.add(
            f"latency p50 / p99 at {rate:g}/s offered (open loop)",
            f"{ms(r['p50'])} / {ms(r['p99'])}",
        )
    if "upload" in results:
        best, median, growth = results["upload"]
        summary.add(
            f"{size_text(args.upload_size)} upload, best (median)",
            f"{best:,.1f} ({median:,.1f}) MB/s",
            f">= {TARGET_UPLOAD} MB/s",
            verdict(best >= TARGET_UPLOAD),
        )
        summary.add(
            "upload: worker peak memory growth",
            f"{growth / MiB:.1f} MiB",
            f"< {TARGET_MEMORY // MiB} MiB",
            verdict(growth < TARGET_MEMORY),
        )
    if "health" in results:
        summary.add("GET /health requests/s (the ceiling)", f"{results['health']:,.1f}")
    summary.print()
    print(f"\n  machine: {quiet}")
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
