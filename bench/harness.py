"""What every benchmark shares: its own database, Django, the server processes, load through
aiohttp, the product's metrics and CPU per process over a window, and result tables.

A scenario (bench/ledger.py, court_api.py, verify.py, certificate.py) builds its options
with `parser()` and `parse()`, calls `prepare()` once, starts the processes it needs with
`Servers`, drives load with `load()` and prints `Table`s. Timings the product exposes
(batches, registrations, verifications) are read from its Prometheus metrics, which every
process started here writes to one PROMETHEUS_MULTIPROC_DIR; what the product cannot see
(a client's latency, CPU per process) is measured here. Nothing is estimated.

This module imports only the standard library at import time: it is also imported by the
load generator's process, which needs aiohttp and nothing of Django.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import math
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The project's packages come before the scenarios: bench/witness.py must not hide the
# `witness` app from a scenario that imports it (the scripts' directory stays on the path,
# after the project, for `import harness`).
if str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))
MiB = 1 << 20
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
GUNICORN_CONF = ROOT / "docker" / "gunicorn.conf.py"


# --- Options ----------------------------------------------------------------------------


def parser(scenario: str, doc: str) -> argparse.ArgumentParser:
    """The options every scenario has; its database is $BENCH_DATABASE_URL + "_<scenario>"."""
    base = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    p = argparse.ArgumentParser(
        prog=f"bench/{scenario}.py",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--database-url",
        default=f"{base}_{scenario}",
        help="PostgreSQL database to DROP, recreate and use; its name must contain 'bench' "
        f"(default: $BENCH_DATABASE_URL followed by _{scenario}: %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="smoke test: small sizes, short windows")
    p.add_argument("--seed", type=int, default=20260101, help="random seed")
    return p


def parse(
    p: argparse.ArgumentParser, quick: dict, full: dict, argv: list[str] | None = None
) -> argparse.Namespace:
    """Parse; options left unset take their --quick or full-run value."""
    args = p.parse_args(argv)
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if "bench" not in urlsplit(args.database_url).path:
        p.error("refusing to drop a database whose name does not contain 'bench'")
    return args


def steps(text: str) -> set[int]:
    """`--steps 1,3` as a set."""
    return {int(s) for s in text.split(",") if s.strip()}


# --- Database and Django ----------------------------------------------------------------

_lock = None  # the connection holding this run's advisory lock, open until exit


# The portal's per-client rates (docs/operations.md, "Rate limits").
RATE_SETTINGS = (
    "VERIFY_RATE",
    "VERIFY_BATCH_RATE",
    "VERIFY_PHOTO_RATE",
    "PAGE_RATE",
    "DOWNLOAD_RATE",
    "SERVICE_LINK_RATE",
    "LOGIN_RATE",
    "LEDGER_READ_RATE",
    "COURT_AUTH_FAILURE_RATE",
)


def prepare(args: argparse.Namespace, **settings: str) -> None:
    """Recreate the benchmark's database, set the environment of this process and of every
    process started from it (plus `settings`), set Django up and migrate.

    A session advisory lock on the maintenance database refuses a second run on the same
    database, which would drop it under the first. $DATABASE_URL is never used.
    """
    global _lock
    import psycopg
    from psycopg import sql

    parts = urlsplit(args.database_url)
    name = parts.path.lstrip("/")
    _lock = psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)
    locked = _lock.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [f"bench {name}"])
    if not locked.fetchone()[0]:
        raise SystemExit(f"another benchmark run is using database {name!r}; wait for it")
    _lock.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    _lock.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    data = Path(os.environ.get("PORTAL_DATA_DIR") or ROOT / "bench" / ".data")
    data.mkdir(parents=True, exist_ok=True)
    if data.resolve().is_relative_to(ROOT) and not (data / ".gitignore").exists():
        (data / ".gitignore").write_text("*\n")  # keys and font subsets stay out of git
    metrics_dir = tempfile.mkdtemp(prefix="bench-metrics-")
    atexit.register(shutil.rmtree, metrics_dir, True)
    for inherited in ("CELERY_BROKER_URL", "CACHE_URL", "CONN_MAX_AGE", "DATABASE_POOL_SIZE"):
        os.environ.pop(inherited, None)  # the project's defaults unless a scenario sets them
    # Every request of a benchmark comes from one address: the portal's rate limits are
    # counted (their cost is part of the figures) but set so high that none refuses.
    os.environ.update(dict.fromkeys(RATE_SETTINGS, "100000000/s"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=args.database_url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench"),
        PORTAL_DATA_DIR=str(data),
        LEDGER_GENERATE_KEY="1",
        CERTIFICATE_DEV_CA="1",
        LEDGER_SEQUENCER="off",  # the scenario runs the sequencer itself
        LOG_LEVEL="WARNING",
        PYTHONWARNINGS="ignore::UserWarning",  # whitenoise: no collectstatic output
        PYTHONPATH=str(ROOT),
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        WEB_ACCESS_LOG="",
        # Plain HTTP with no proxy in front; pages find their static files without
        # collectstatic.
        SECURE_SSL_REDIRECT="0",
        STATIC_MANIFEST="0",
        WHITENOISE_USE_FINDERS="1",
        **settings,
    )
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def describe(title: str, args: argparse.Namespace) -> None:
    """Print the benchmark's title, the machine, PostgreSQL and the options."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version(), current_setting('shared_buffers'), "
            "current_setting('synchronous_commit'), current_setting('max_connections')"
        )
        version, buffers, sync, max_conn = cursor.fetchone()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / MiB
    print(title + (" (--quick)" if args.quick else ""))
    python = sys.version.split()[0]
    print(f"  machine: {os.cpu_count()} cores, {cpu}, {memory:.1f} GiB; Python {python}")
    print(
        f"  PostgreSQL: {version.split(' on ')[0]} (shared_buffers {buffers}, "
        f"synchronous_commit {sync}, max_connections {max_conn}); database "
        f"{urlsplit(args.database_url).path.lstrip('/')} (recreated)"
    )
    print(f"  load average at start: {load_average()}")
    print(f"  options: {vars(args)}", flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def wait_for_quiet(below: float = 1.5, hold: float = 30.0, max_wait: float = 1800.0) -> str:
    """Wait until the 1-minute load average has stayed below `below` for `hold` seconds
    (the machine is shared); return what to print about it."""
    start = time.monotonic()
    quiet_since = None
    note(f"waiting for the 1-minute load average to stay below {below:g} for {hold:g} s")
    while time.monotonic() - start < max_wait:
        if os.getloadavg()[0] < below:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= hold:
                return f"waited {time.monotonic() - start:.0f} s for quiet (load {load_average()})"
        else:
            quiet_since = None
        time.sleep(1.0)
    return f"MACHINE LOADED: gave up waiting after {max_wait:.0f} s (load {load_average()})"


# --- Server processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """The processes a benchmark starts (gunicorn, Celery, the sequencer), each in a process
    group of its own with its output in a temporary log; all are stopped when the `with`
    block ends, also on an error, Ctrl-C or SIGTERM."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def __enter__(self) -> Servers:
        self._previous = signal.signal(signal.SIGTERM, _exit_on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)
        for log in self.logs.values():
            log.unlink(missing_ok=True)
        signal.signal(signal.SIGTERM, self._previous)

    def stop(self, name: str) -> None:
        """Stop a process and whatever is left in its group. gunicorn gets SIGINT, its quick
        shutdown: SIGTERM would wait for every request still waiting for its batch."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGINT if name.startswith("gunicorn") else signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        fd, log = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
        self.logs[name] = Path(log)
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        os.close(fd)
        return self.procs[name]

    def tail(self, name: str, lines: int = 8) -> str:
        text = self.logs[name].read_text(errors="replace").strip().splitlines()
        return "\n    ".join(text[-lines:])

    def gunicorn(
        self,
        worker_class: str = "gevent",
        workers: int = 2,
        threads: int = 1,
        *,
        name: str = "gunicorn",
        port: int | None = None,
        **env: str,
    ) -> str:
        """gunicorn with the production settings (docker/gunicorn.conf.py); its base URL.
        Another gunicorn beside the first (a witness) has a `name` starting "gunicorn" and
        its own `env` (DATABASE_URL, ...)."""
        port = port or free_port()
        argv = [sys.executable, "-m", "gunicorn", "portal.wsgi:application"]
        argv += ["--config", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}"]
        argv += ["--worker-class", worker_class, "--workers", str(workers), "--timeout", "120"]
        argv += ["--threads", str(threads)] if worker_class == "gthread" else []
        proc = self.start(name, [*argv, "--log-level", "warning"], **env)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/metrics", timeout=5):
                    return url
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n    {self.tail(name)}") from None
                time.sleep(0.2)

    def sequencer(self, **env: str) -> subprocess.Popen:
        """`manage.py sequencer`: a batch every LEDGER_BATCH_PERIOD (and its publisher,
        timestamper and chain anchoring threads, as `env` or the environment configure)."""
        return self.start("sequencer", [sys.executable, "manage.py", "sequencer"], **env)

    def celery(self, pool: str = "prefork", concurrency: int = 4) -> subprocess.Popen:
        """`celery -A portal worker` on the default queue."""
        argv = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", pool]
        argv += ["--concurrency", str(concurrency), "--loglevel", "WARNING"]
        return self.start("celery", [*argv, "--hostname", f"bench-{os.getpid()}@%h"])

    def pid(self, name: str) -> int:
        return self.procs[name].pid


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


# --- CPU and metrics over a window ------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, the children it reaped and its live descendants."""
    f = _stat(pid)
    own = sum(int(x) for x in f[11:15]) / _TICK if f else 0.0
    return own + sum(cpu_seconds(child) for child in children(pid))


def _busy() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICK


def _backends() -> dict[int, float]:
    """CPU of each PostgreSQL backend of the benchmark's database (this one excepted)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: sum(int(x) for x in _stat(pid)[11:13]) / _TICK for pid in pids if _stat(pid)}


def read_metrics() -> dict[tuple[str, tuple], float]:
    """Every sample of the product's metrics, added up over all processes."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, os.environ["PROMETHEUS_MULTIPROC_DIR"])
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
    }


class Metrics:
    """The product's counters and histograms between two reads (differences)."""

    def __init__(self, before: dict, after: dict) -> None:
        self.values = {key: value - before.get(key, 0.0) for key, value in after.items()}

    def total(self, name: str, **labels: str) -> float:
        want = set(labels.items())
        return sum(v for (n, lbl), v in self.values.items() if n == name and want <= set(lbl))

    def mean(self, histogram: str, **labels: str) -> float:
        count = self.total(histogram + "_count", **labels)
        return self.total(histogram + "_sum", **labels) / count if count else math.nan

    def quantile(self, histogram: str, q: float, **labels: str) -> float:
        """The upper bound of the bucket holding the q-quantile (inf past the last)."""
        want = set(labels.items())
        buckets: dict[float, float] = {}
        for (n, lbl), v in self.values.items():
            if n == histogram + "_bucket" and want <= set(lbl):
                le = float(dict(lbl)["le"])
                buckets[le] = buckets.get(le, 0.0) + v
        count = buckets.get(math.inf, 0.0)
        if not count:
            return math.nan
        return next(le for le in sorted(buckets) if buckets[le] >= q * count)


def batches(m: Metrics) -> str:
    """The sequencer's batches in a window, from its metrics: count, mean size, mean time."""
    count = m.total("ledger_batch_duration_seconds_count")
    return (
        f"{count:.0f}, mean {m.mean('ledger_batch_entries'):,.0f} entries, "
        f"{m.mean('ledger_batch_duration_seconds') * 1000:.1f} ms"
    )


@dataclass
class Snapshot:
    cpu: dict[str, float]
    backends: dict[int, float]
    busy: float
    metrics: dict


def snapshot(groups: dict[str, list[int]]) -> Snapshot:
    """CPU of each group of process trees, of the database's backends, of the machine, and
    the product's metrics, now."""
    cpu = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}
    return Snapshot(cpu, _backends(), _busy(), read_metrics())


def cpu_between(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Core-seconds per group over a window, with "postgres" (the backends of this database
    alive at its end) and "machine" (every core's busy time)."""
    cpu = {name: after.cpu[name] - before.cpu.get(name, 0.0) for name in after.cpu}
    cpu["postgres"] = sum(c - before.backends.get(pid, 0.0) for pid, c in after.backends.items())
    cpu["machine"] = after.busy - before.busy
    return cpu


# --- Load -------------------------------------------------------------------------------

# The request a scenario makes: (session, context, k, i) -> (status, body, tag), where k
# is the client (closed loop) or the request's number (open loop), i the client's request
# count, and tag what the checks need to know about what was sent. It may raise: the
# request then counts with status 0 and the error.
Request = Callable[[Any, dict, int, int], Awaitable[tuple[int, bytes, Any]]]
OPEN_LOOP_TICK = 0.01  # the open loop starts the requests due in each 10 ms together


@dataclass
class Result:
    start: float  # monotonic: when it was due (open loop) or sent (closed loop)
    end: float  # monotonic: when its last answer was read
    wall: float  # time.time() at `start`, to compare with the rows' timestamps
    status: int
    body: bytes
    tag: Any
    error: str | None


@dataclass
class Window:
    """One load run: every request made (warm-up included) and what the window cost."""

    start: float
    end: float
    results: list[Result]
    cpu: dict[str, float]
    metrics: Metrics

    @property
    def duration(self) -> float:
        return self.end - self.start

    def started(self) -> list[Result]:
        return [r for r in self.results if self.start <= r.start < self.end]

    def answered(self, status: int) -> list[Result]:
        """Answers with `status` received within the window."""
        return [r for r in self.results if r.status == status and self.start <= r.end < self.end]


def load(
    request: Request,
    context: dict,
    groups: dict[str, list[int]],
    *,
    clients: int = 0,
    rate: float = 0.0,
    warmup: float,
    duration: float,
    timeout: float = 60.0,
) -> Window:
    """Run a closed loop of `clients`, or an open loop of `rate` requests/s, in a process of
    its own (asyncio and one aiohttp session), for `warmup` then `duration` seconds; CPU of
    `groups` (and the client's) and the product's metrics are taken over the window. Every
    request started before the window's end is awaited."""
    spawn = multiprocessing.get_context("spawn")
    receiver, sender = spawn.Pipe(duplex=False)
    start_at = time.monotonic() + 3.0  # the new process imports aiohttp meanwhile
    window = (start_at + warmup, start_at + warmup + duration)
    args = (sender, request, context, clients, rate, start_at, window[1], timeout)
    client = spawn.Process(target=_client_process, args=args, daemon=True)
    client.start()
    sender.close()
    try:
        groups = {**groups, "client": [client.pid]}
        time.sleep(max(0.0, window[0] - time.monotonic()))
        before = snapshot(groups)
        time.sleep(max(0.0, window[1] - time.monotonic()))
        after = snapshot(groups)
        try:
            results = receiver.recv()
        except EOFError:
            raise RuntimeError(f"the load generator died (exit code {client.exitcode})") from None
    finally:
        client.join(timeout=10)
        if client.is_alive():
            client.kill()
    return Window(
        *window, results, cpu_between(before, after), Metrics(before.metrics, after.metrics)
    )


def _client_process(conn, request, context, clients, rate, start_at, stop_at, timeout) -> None:
    conn.send(asyncio.run(_drive(request, context, clients, rate, start_at, stop_at, timeout)))
    conn.close()


async def _drive(request, context, clients, rate, start_at, stop_at, timeout) -> list[Result]:
    import aiohttp

    results: list[Result] = []

    async def one(session, k: int, i: int, due: float | None = None) -> int:
        wall, t0 = time.time(), time.monotonic()
        if due is not None:  # the generator's own lateness counts against the server
            wall, t0 = wall - (t0 - due), due
        status, body, tag, error = 0, b"", None, None
        try:
            status, body, tag = await request(session, context, k, i)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:160]
        results.append(Result(t0, time.monotonic(), wall, status, body, tag, error))
        return status

    async def closed(session, k: int) -> None:
        i = 0
        while time.monotonic() < stop_at:
            if await one(session, k, i) == 0:
                await asyncio.sleep(0.05)  # no tight loop on a refused connection
            i += 1

    # A connection idle for 1 s is not reused: gunicorn closes them after 2 s.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=1.0)
    session_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=session_timeout) as session:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        if not rate:
            await asyncio.gather(*(closed(session, k) for k in range(clients)))
            return results
        pending, n = [], 0
        due = start_at
        while due < stop_at:
            await asyncio.sleep(max(0.0, due + OPEN_LOOP_TICK - time.monotonic()))
            now = time.monotonic()
            while due <= now and due < stop_at:
                pending.append(asyncio.create_task(one(session, n, 0, due)))
                n += 1
                due = start_at + n / rate
        await asyncio.gather(*pending)
    return results


# --- Results ----------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1] if ordered else math.nan


def note(text: str) -> None:
    print(f"  .. {text}", flush=True)


class Table:
    """A plain-text table: measure, value, target, verdict (MET or MISSED)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, measure: str, value: str = "", target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("MET" if ok else "MISSED")
        self.rows.append((measure, value, target, verdict))

    def cpu(self, cpu: dict[str, float], count: float, unit: str, seconds: float) -> None:
        """CPU per unit of work (ms) of each process group, and how busy the machine was."""
        groups = [g for g in cpu if g != "machine" and cpu[g] > 0]
        cells = ", ".join(f"{g} {cpu[g] / count * 1000:.2f}" for g in groups) if count else "-"
        self.add(f"CPU per {unit} (ms)", cells)
        self.add("machine busy", f"{cpu['machine'] / (seconds * (os.cpu_count() or 1)):.1%}")

    def print(self) -> None:
        head = ("measure", "value", "target", "")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        rule = "  ".join("-" * w for w in widths)
        print(f"\n{self.title}\n{rule}")
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
        print(rule)
        for row in self.rows:
            cells = [
                c.rjust(w) if i == 1 else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            print("  ".join(cells).rstrip())
        print(rule, flush=True)
