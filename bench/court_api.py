#!/usr/bin/env python
"""Benchmark the court API: records registered per second through HTTP, and their latency.

POST /api/v1/records is timed end to end, as a court's system sees it: concurrent
clients (asyncio with keep-alive connections, in a process of their own: a minimal HTTP/1.1
client for the JSON runs, so that the load generator takes little of the two cores the
server needs, aiohttp for uploads and batches) post records to a live gunicorn on
PostgreSQL, while `manage.py sequencer` integrates the pooled leaves
every LEDGER_BATCH_PERIOD (1 s). Each request waits until its entry is integrated and
answers 201 with the record's code and its ledger receipt (index, inclusion proof,
signed checkpoint), so a request's latency includes the wait for its batch.

Three runs against the same server:

  1. JSON records (digests only), closed loop: C clients (1200) each loop POSTing
     {"sha256", "sm3", "category", "title", "case_number", "parties"} for D seconds (30)
     after a warm-up. Target: >= 500 records/s (201 answers received per second over the
     window). A closed-loop client gets at most one answer per batch (its next request
     waits for the next batch), so C must exceed the target rate times the period; the
     clients fall into step with the batches, and a request sent just after one batch
     is answered after the next (about two periods), so C is 1200, not 600. Its latency
     at saturation is C / throughput (Little's law), a figure of C, printed without a
     target.
  1b. JSON records, open loop: requests started on a fixed schedule at --rate (500/s),
     whether or not earlier ones have finished, as many court systems sending records
     independently would. Targets: every request answered 201, and p99 latency < 2.5 s,
     measured from each request's scheduled start (so a client falling behind counts).
  2. Multipart uploads: fewer clients (100) each loop POSTing a 20 KB file, for a shorter
     window. No target; the second figure.
  3. Batches (--runs batch, not run by default): B clients (8) each loop POSTing N records
     (100) to POST /api/v1/records/batch. Records/s here are records in 201 answers per
     second; they are another endpoint's figure, never the single-record one above.

For each run: records/s, p50/p90/p99/max latency, answers by status and client errors,
the peak number of PostgreSQL connections (max_connections is shared by every database on
the server) and what the active backends wait on, where the latency goes (from the
answers' recorded_at and their entries' integrated_at), batch sizes, CPU seconds by
process (gunicorn workers, sequencer, PostgreSQL, the client, everything else) from /proc
over the window, the errors in gunicorn's log and where the 500s were raised, and the
records in the database against the 201 answers. After the window a
sample of answers is verified: the checkpoint opens with the log's verifier key, the
inclusion proof verifies against its root, the entry at the answer's index is the leaf
rebuilt from the record row, and it holds the digests that were sent.

When the targets are missed (--profile auto), a separate, untimed pass runs the JSON load
again with py-spy attached to every gunicorn worker and to the sequencer, and prints
where their CPU time goes, by file:line of the project's code and by library function.
py-spy is optional (pip install py-spy into the virtualenv); without it the pass is
skipped with a note.

The benchmark uses its OWN database, dropped and recreated at every start:
--database-url, else $BENCH_COURT_DATABASE_URL, else
postgres://postgres@127.0.0.1:5432/portal_bench_court. $DATABASE_URL is ignored, and a
database whose name does not contain "bench" is refused. The signing key lives in
$PORTAL_DATA_DIR (default bench/.data) and is generated on first use. Every process the
benchmark starts (gunicorn, the sequencer, the clients, py-spy) is stopped when it ends,
also on errors and Ctrl-C.

    python bench/court_api.py                 # the full run (about 2 minutes)
    python bench/court_api.py --quick         # smoke test, under a minute
    python bench/court_api.py --clients 600 --worker-class gthread --threads 400
    make bench BENCH_ARGS=--quick COURT_BENCH_ARGS="--clients 600"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import pickle
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
# Plain-text helpers shared with the ledger benchmark (stdlib only at import time).
from ledger import Table, fmt_int, free_port, machine, note, pct, recreate_database, verdict  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_court"
PATH = "/api/v1/records"

TARGET_RATE = 500  # records/s, 201 answers
TARGET_P99 = 2.5  # s, with LEDGER_BATCH_PERIOD = 1 s

QUICK = {
    "duration": 10.0,
    "warmup": 3.0,
    "upload_duration": 5.0,
    "batch_duration": 10.0,
    "verify_sample": 100,
    "profile": "never",
}
DEFAULTS = {
    "duration": 30.0,
    "warmup": 5.0,
    "upload_duration": 15.0,
    "batch_duration": 30.0,
    "verify_sample": 500,
    "profile": "auto",
}


# --- Options ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/court_api.py",
        description=__doc__.split("\n\n")[0],
        epilog="Environment: BENCH_COURT_DATABASE_URL, PORTAL_DATA_DIR (default bench/.data), "
        "SECRET_KEY (default 'bench'). LEDGER_SEQUENCER is 'off' in this process and in "
        "gunicorn; the benchmark runs `manage.py sequencer` itself.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_COURT_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to DROP, recreate and use (name must contain 'bench')",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: "
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + " unless given explicitly",
    )
    parser.add_argument("--seed", type=int, default=20260101, help="random seed")
    parser.add_argument(
        "--runs",
        default="json,open,upload",
        help="which runs, comma-separated: json, open, upload, batch",
    )

    g = parser.add_argument_group("server")
    g.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    g.add_argument(
        "--worker-class",
        default="gevent",
        help="gunicorn worker class (docker/gunicorn.conf.py's is gevent)",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=400,
        help="threads per worker, for --worker-class gthread only",
    )
    g.add_argument("--period", type=float, default=1.0, help="LEDGER_BATCH_PERIOD, seconds")
    g.add_argument(
        "--conn-max-age",
        default=None,
        help="CONN_MAX_AGE for gunicorn (default: the project's, 0: a new PostgreSQL "
        "connection per request, and a second one after the wait for the batch)",
    )

    g = parser.add_argument_group("1. JSON records")
    g.add_argument("--clients", type=int, default=1200, help="C, concurrent clients")
    g.add_argument("--duration", type=float, default=None, help="D, measured window, s [30]")
    g.add_argument(
        "--warmup", type=float, default=None, help="seconds of load before the window [5]"
    )
    g.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="processes the clients are spread over (asyncio + aiohttp in each)",
    )

    g = parser.add_argument_group("1b. JSON records, open loop")
    g.add_argument(
        "--rate", type=float, default=TARGET_RATE, help="records/s offered (started) [500]"
    )
    g.add_argument(
        "--open-duration", type=float, default=None, help="measured window, s [--duration]"
    )

    g = parser.add_argument_group("2. multipart uploads")
    g.add_argument("--upload-clients", type=int, default=100, help="concurrent clients")
    g.add_argument("--upload-duration", type=float, default=None, help="measured window, s [15]")
    g.add_argument("--upload-size", type=int, default=20 * 1024, help="bytes per file")

    g = parser.add_argument_group("3. batches (POST /api/v1/records/batch)")
    g.add_argument("--batch-clients", type=int, default=8, help="concurrent clients")
    g.add_argument("--batch-size", type=int, default=100, help="records per request")
    g.add_argument("--batch-duration", type=float, default=None, help="measured window, s [30]")

    g = parser.add_argument_group("checks and profiling")
    g.add_argument(
        "--verify-sample", type=int, default=None, help="answers verified per run (0 = all) [500]"
    )
    g.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default=None,
        help="after the runs, profile the server with py-spy in a separate untimed JSON "
        "run: auto = only when a target is missed [auto]",
    )
    g.add_argument("--profile-duration", type=float, default=20.0, help="seconds py-spy samples")
    g.add_argument(
        "--profile-clients",
        type=int,
        default=None,
        help="clients during the profile [--clients]",
    )
    # Internal: this script is also the load generator, run in its own process.
    parser.add_argument("--client-spec", help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    if args.client_spec:
        return args
    for key, value in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else value)
    if args.open_duration is None:
        args.open_duration = args.duration
    args.runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if not set(args.runs) <= {"json", "open", "upload", "batch"}:
        parser.error("--runs takes json, open, upload and/or batch")
    name = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in name:
        parser.error(f"refusing to drop database {name!r}: its name must contain 'bench'")
    return args


# --- The load generator (runs in its own process) ---------------------------------------


def json_body(seed: int, k: int, i: int) -> tuple[bytes, str, str]:
    sha, sm = os.urandom(32).hex(), os.urandom(32).hex()
    body = {
        "sha256": sha,
        "sm3": sm,
        "category": "evidence",
        "title": f"Bench evidence {k}-{i}",
        "case_number": f"(2026)京0105民初{k}号",
        "parties": ["张三", f"Bench Party {k} Ltd."],
    }
    return json.dumps(body, ensure_ascii=False).encode(), sha, sm


def batch_body(seed: int, k: int, i: int, size: int) -> tuple[bytes, list[tuple[str, str]]]:
    """A batch of `size` records (the JSON run's items) and their digests, in order."""
    items = [json.loads(json_body(seed, k, i)[0]) for _ in range(size)]
    for j, item in enumerate(items):
        item["title"] = f"Bench batch {k}-{i}-{j}"
    body = json.dumps({"records": items}, ensure_ascii=False).encode()
    return body, [(item["sha256"], item["sm3"]) for item in items]


def upload_content(seed: int, k: int, i: int, size: int) -> bytes:
    """The file client k sends as its i-th upload: reproducible, so answers can be checked."""
    return random.Random(f"{seed} {k} {i}").randbytes(size)


OPEN_LOOP_TICK = 0.01  # seconds: the open loop starts the requests due in each tick together


class RawHTTP:
    """A minimal HTTP/1.1 keep-alive client for the JSON runs' POSTs.

    The load generator shares the two cores with the server under test; this one costs a
    fraction of aiohttp's CPU per request (both are reported as "client"). Responses must
    carry Content-Length (Django's CommonMiddleware sets it). A connection idle for longer
    than IDLE is not reused, so none is ever sent on after gunicorn's keep-alive (2 s)
    closed it.
    """

    IDLE = 1.5

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        lines = [f"POST {parts.path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.head = ("\r\n".join(lines) + "\r\n").encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def post(self, body: bytes) -> tuple[int, bytes]:
        reader = writer = None
        now = time.monotonic()
        while self.idle:
            r, w, used = self.idle.pop()
            if now - used < self.IDLE and not r.at_eof() and not w.is_closing():
                reader, writer = r, w
                break
            w.close()
        if writer is None:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            head = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
            status, length, close = int(head[0].split()[1]), None, False
            for line in head[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if length is None:
                raise ValueError("an answer without Content-Length")
            answer = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self.idle.append((reader, writer, time.monotonic()))
        return status, answer


def client_main(spec_path: str) -> int:
    """Run C clients, each POSTing records in a loop; pickle every request's outcome."""
    import aiohttp

    spec = json.loads(Path(spec_path).read_text())
    results: list[tuple] = []

    url = spec["url"] + ("/batch" if spec["mode"] == "batch" else "")
    headers = {"Authorization": f"Token {spec['token']}"}
    if spec["mode"] in ("json", "open", "batch"):
        headers["Content-Type"] = "application/json"

    async def client(session, k: int) -> None:
        i = 0
        while time.monotonic() < spec["stop_at"]:
            status = await request(session, k, i)
            i += 1
            if status == 0:
                await asyncio.sleep(0.05)  # no tight loop on a refused connection

    async def offered(session) -> None:
        """Open loop: request n starts at start_at + n / rate, finished or not the others.

        The requests due within one tick start together at its end, never early: a timer
        per request (500 a second) cost the load generator, on the server's cores, more
        than the requests themselves. Latency counts from each request's own due time,
        so the up to OPEN_LOOP_TICK they start late counts against the server.
        """
        pending, n = [], 0
        while True:
            due = spec["start_at"] + n / spec["rate"]
            if due >= spec["stop_at"]:
                break
            await asyncio.sleep(max(0.0, due + OPEN_LOOP_TICK - time.monotonic()))
            now = time.monotonic()
            while due <= now and due < spec["stop_at"]:
                pending.append(asyncio.create_task(request(session, spec["first"] + n, 0, due)))
                n += 1
                due = spec["start_at"] + n / spec["rate"]
        await asyncio.gather(*pending)

    async def request(session, k: int, i: int, due: float | None = None) -> int:
        """Send client k's i-th request; its latency counts from `due` when scheduled."""
        if spec["mode"] in ("json", "open"):
            data, sha, sm = json_body(spec["seed"], k, i)
        elif spec["mode"] == "batch":
            # (sha, sm) below is then the list of the batch's digest pairs
            data, sha = batch_body(spec["seed"], k, i, spec["batch_size"])
            sm = None
        else:
            content = upload_content(spec["seed"], k, i, spec["upload_size"])
            sha, sm = hashlib.sha256(content).hexdigest(), None
            data = aiohttp.FormData()
            data.add_field("category", "evidence")
            data.add_field("title", f"Bench upload {k}-{i}")
            data.add_field("case_number", f"(2026)京0105民初{k}号")
            data.add_field("parties", "张三")
            data.add_field("parties", f"Bench Party {k} Ltd.")
            data.add_field(
                "file",
                content,
                filename=f"evidence-{k}-{i}.bin",
                content_type="application/octet-stream",
            )
        wall = time.time()
        t0 = time.monotonic()
        if due is not None:  # the client's own lag counts against the server
            wall, t0 = wall - (t0 - due), due
        error = None
        try:
            if isinstance(session, RawHTTP):
                status, body = await session.post(data)
            else:
                async with session.post(url, data=data, headers=headers) as response:
                    body = await response.read()
                    status = response.status
        except Exception as exc:  # a failed request is a result too
            status, body = 0, b""
            error = f"{type(exc).__name__}: {str(exc)[:120]}"
        t1 = time.monotonic()
        results.append(
            (
                k,
                i,
                t0,
                t1,
                wall,
                status,
                (sha, sm),
                body if status == 201 else body[:400],
                error,
            )
        )
        return status

    async def run() -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
        timeout = aiohttp.ClientTimeout(total=spec["request_timeout"])
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            if spec["mode"] in ("json", "open"):
                session = RawHTTP(url, headers)  # the JSON runs' own, leaner client
            await asyncio.sleep(max(0.0, spec["start_at"] - time.monotonic()))
            if spec["mode"] == "open":
                await offered(session)
                return
            await asyncio.gather(
                *(client(session, k) for k in range(spec["first"], spec["first"] + spec["count"]))
            )

    asyncio.run(run())
    with open(spec["out"], "wb") as f:
        pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
    return 0


# --- Processes: gunicorn, the sequencer, the clients, py-spy ----------------------------


class Processes:
    """Every process this benchmark starts; stop_all() ends them (and their groups)."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 15) -> None:
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
                proc.wait(timeout=wait)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        # Anything left in its own process group (gunicorn workers) is ended too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for name, proc in reversed(self.procs):
            # gunicorn: SIGINT is its quick shutdown (SIGTERM would wait for the requests
            # still waiting for their batch).
            self.stop(proc, signal.SIGINT if name == "gunicorn" else signal.SIGTERM)
        self.procs.clear()


def server_env(args, settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        LEDGER_BATCH_PERIOD=str(args.period),
        LEDGER_SIGNING_KEY_FILE=str(settings.LEDGER_SIGNING_KEY_FILE),
        LEDGER_SEQUENCER="off",
        PYTHONPATH=str(ROOT),
        PYTHONWARNINGS="ignore::UserWarning",  # whitenoise: no collectstatic output
        WEB_ACCESS_LOG="",  # none: the figures are the application's
    )
    if args.conn_max_age is not None:
        env["CONN_MAX_AGE"] = str(args.conn_max_age)
    return env


def server_shape(args) -> str:
    """The gunicorn workers, as the report prints them."""
    shape = f"{args.workers} x {args.worker_class}"
    return shape + (f" {args.threads} threads" if args.worker_class == "gthread" else "")


def start_server(args, procs: Processes, settings) -> tuple[int, Path, subprocess.Popen, Path]:
    env = server_env(args, settings)
    seq_log = Path(tempfile.mkstemp(prefix="bench-court-sequencer-", suffix=".log")[1])
    procs.start(
        "sequencer",
        [sys.executable, str(ROOT / "manage.py"), "sequencer"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=seq_log.open("w"),
    )
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-court-gunicorn-", suffix=".log")[1])
    gunicorn = procs.start(
        "gunicorn",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--config",
            str(ROOT / "docker" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            args.worker_class,
            "--workers",
            str(args.workers),
            *(["--threads", str(args.threads)] if args.worker_class == "gthread" else []),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/v1/ledger/checkpoint", headers={"Host": "127.0.0.1"})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn did not start: {log.read_text()[-600:]}")
        time.sleep(0.2)
    return port, log, gunicorn, seq_log


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def postmaster_pid() -> int | None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and b"-D" in argv:
            return int(cmdline.parent.name)
    return None


class Cpu:
    """CPU seconds (user + system) of process groups, read from /proc."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, groups: dict[str, int | list[int]]) -> None:
        self.groups = groups  # name -> a pid with its children, or a list of single pids

    @staticmethod
    def _times(pid: int) -> tuple[float, float]:
        """(own, reaped children's) CPU seconds of one process."""
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return 0.0, 0.0
        f = text[text.rindex(")") + 2 :].split()
        own = (int(f[11]) + int(f[12])) / Cpu.TICK
        reaped = (int(f[13]) + int(f[14])) / Cpu.TICK
        return own, reaped

    def snapshot(self) -> dict[str, float]:
        snap = {}
        for name, spec in self.groups.items():
            if isinstance(spec, list):
                snap[name] = sum(self._times(pid)[0] for pid in spec)
            else:
                own, reaped = self._times(spec)
                # A tree: the parent, its live children, and the children it has reaped
                # (short-lived PostgreSQL backends end up there).
                snap[name] = own + reaped + sum(self._times(c)[0] for c in children(spec))
        fields = Path("/proc/stat").read_text().split("\n")[0].split()[1:]
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        snap["_busy"] = (user + nice + system + irq + softirq + steal) / self.TICK
        snap["_all"] = (user + nice + system + idle + iowait + irq + softirq + steal) / self.TICK
        snap["_iowait"] = iowait / self.TICK
        snap["_steal"] = steal / self.TICK
        return snap


class PgSampler(threading.Thread):
    """Every 100 ms: PostgreSQL client connections (this database, and all), and the CPU
    of the server's processes that do not serve this database (other databases' backends,
    background processes), so that the server's CPU can be split afterwards."""

    BACKEND = re.compile(r"^postgres: [^:]+: (\S+) (\S+) (\S+\(\d+\)|\[local\])")

    def __init__(self, url: str, postmaster: int | None) -> None:
        super().__init__(daemon=True)
        self.url, self.name = url, urlsplit(url).path.lstrip("/")
        self.postmaster = postmaster
        self.exclude: set[int] = set()  # this benchmark's own connections
        self.samples: list[tuple[float, int, int, int]] = []  # t, ours, ours active, all
        self.waits: list[tuple[float, dict[str, int]]] = []  # t, active ones by wait event
        self.kinds: dict[int, str] = {}  # pid -> "ours", "other" or "background"
        self.cpu: dict[int, list[tuple[float, float]]] = defaultdict(list)  # not "ours"
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            self.exclude.add(conn.info.backend_pid)
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE datname = %s AND pid <> ALL(%s)), "
                    "count(*) FILTER (WHERE datname = %s AND state = 'active' "
                    "AND pid <> ALL(%s)), count(*) "
                    "FROM pg_stat_activity WHERE backend_type = 'client backend'",
                    [self.name, list(self.exclude), self.name, list(self.exclude)],
                ).fetchone()
                now = time.monotonic()
                self.samples.append((now, *row))
                waits = conn.execute(
                    "SELECT coalesce(wait_event_type || ': ' || wait_event, 'on CPU or "
                    "runnable'), left(regexp_replace(query, '\\s+', ' ', 'g'), 44), count(*) "
                    "FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                    "AND pid <> ALL(%s) GROUP BY 1, 2",
                    [self.name, list(self.exclude)],
                ).fetchall()
                self.waits.append((now, {f"{e}, in {q}": n for e, q, n in waits}))
                self._scan(now)
                self.stop.wait(0.1)

    def _scan(self, now: float) -> None:
        if not self.postmaster:
            return
        try:
            pids = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children").read_text()
        except OSError:
            return
        for pid in map(int, pids.split()):
            kind = self.kinds.get(pid)
            if kind is None:
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                m = self.BACKEND.match(title.decode(errors="replace"))
                if m:
                    kind = "ours" if m[2] == self.name else "other"
                elif re.match(r"^postgres: [^:]+: [a-z]", title.decode(errors="replace")):
                    kind = "background"  # checkpointer, walwriter, autovacuum...
                else:
                    continue  # a backend still starting: look again next time
                self.kinds[pid] = kind
            if kind != "ours":
                own, _ = Cpu._times(pid)
                self.cpu[pid].append((now, own))

    def cpu_of(self, kind: str, start: float, end: float) -> float:
        """CPU seconds that the processes of one kind used between start and end."""
        total = 0.0
        for pid, series in self.cpu.items():
            if self.kinds.get(pid) != kind:
                continue
            at_end = [c for t, c in series if t <= end]
            if not at_end:
                continue
            at_start = [c for t, c in series if t <= start]
            total += at_end[-1] - (at_start[-1] if at_start else 0.0)
        return total

    def wait_events(self, start: float, end: float) -> list[tuple[str, float]]:
        """Mean number of this database's active backends in each wait event."""
        rows = [w for t, w in self.waits if start <= t <= end]
        total: Counter = Counter()
        for w in rows:
            total.update(w)
        return [(k, n / len(rows)) for k, n in total.most_common()] if rows else []

    def peak(self, start: float, end: float) -> tuple[int, int, int]:
        rows = [s for s in self.samples if start <= s[0] <= end] or [(0, 0, 0, 0)]
        return max(r[1] for r in rows), max(r[2] for r in rows), max(r[3] for r in rows)


# --- One load run -----------------------------------------------------------------------


def run_load(
    args,
    procs: Processes,
    *,
    mode: str,
    clients: int,
    port: int,
    token: str,
    warmup: float,
    duration: float,
    cpu: Cpu | None,
    sampler: PgSampler,
    on_window=None,
) -> dict:
    """Drive the load and return the raw outcome; nothing here is analysed."""
    from django.conf import settings

    nproc = max(1, min(args.client_processes, clients))
    start_at = time.monotonic() + 2.0  # the client processes import aiohttp meanwhile
    window = (start_at + warmup, start_at + warmup + duration)
    outs, client_procs = [], []
    per, extra = divmod(clients, nproc)
    first = 0
    for n in range(nproc):
        count = per + (1 if n < extra else 0)
        out = Path(tempfile.mkstemp(prefix="bench-court-client-", suffix=".pickle")[1])
        spec = {
            "url": f"http://127.0.0.1:{port}{PATH}",
            "token": token,
            "mode": mode,
            "seed": args.seed,
            "upload_size": args.upload_size,
            "batch_size": args.batch_size,
            # Open-loop requests are numbered per process from here (the digests' seed).
            "first": first if mode != "open" else n * 10_000_000,
            "count": count,
            "rate": args.rate / nproc,
            "start_at": start_at,
            "stop_at": window[1],
            "request_timeout": settings.LEDGER_SUBMIT_TIMEOUT + 30,
            "out": str(out),
        }
        first += count
        spec_path = out.with_suffix(".json")
        spec_path.write_text(json.dumps(spec))
        outs.append((out, spec_path))
        client_procs.append(
            procs.start(
                "client",
                [sys.executable, str(Path(__file__).resolve()), "--client-spec", str(spec_path)],
                cwd=ROOT,
            )
        )
    groups_cpu = {}
    if cpu is not None:
        cpu.groups["client"] = [p.pid for p in client_procs]
        time.sleep(max(0.0, window[0] - time.monotonic()))
        before = cpu.snapshot()
        if on_window:
            on_window()
        time.sleep(max(0.0, window[1] - time.monotonic()))
        after = cpu.snapshot()
        groups_cpu = {k: after[k] - before[k] for k in after}
    elif on_window:
        time.sleep(max(0.0, window[0] - time.monotonic()))
        on_window()
    results = []
    for p, (out, spec_path) in zip(client_procs, outs, strict=True):
        p.wait(timeout=warmup + duration + settings.LEDGER_SUBMIT_TIMEOUT + 120)
        if p.returncode != 0:
            raise RuntimeError(f"client process exited with {p.returncode}")
        with open(out, "rb") as f:
            results += pickle.load(f)
        out.unlink()
        spec_path.unlink()
    procs.procs = [(n, p) for n, p in procs.procs if p not in client_procs]
    return {
        "mode": mode,
        "clients": clients,
        "window": window,
        "duration": duration,
        "results": results,
        "cpu": groups_cpu,
        "pg_other": sampler.cpu_of("other", *window),
        "pg_background": sampler.cpu_of("background", *window),
        "connections": sampler.peak(window[0], window[1] + settings.LEDGER_SUBMIT_TIMEOUT),
        "waits": sampler.wait_events(*window),
    }


# --- Analysis ---------------------------------------------------------------------------


def analyse(args, run: dict, gunicorn_log: Path, log_offset: int) -> tuple[Table, dict]:
    from django.conf import settings

    from anchoring import keys, leaf, merkle
    from anchoring.checkpoint import open_checkpoint
    from anchoring.models import Checkpoint, Entry
    from documents import codes, entries
    from documents.models import Record

    w0, w1 = run["window"]
    duration = run["duration"]
    results = run["results"]
    sent = [r for r in results if w0 <= r[2] < w1]  # requests sent within the window
    done_in_window = [r for r in results if r[5] == 201 and w0 <= r[3] < w1]
    batch = run["mode"] == "batch"
    per_request = args.batch_size if batch else 1  # a batch is all or nothing
    rate = len(done_in_window) * per_request / duration
    statuses = Counter(r[5] for r in sent)
    errors = Counter(r[8] for r in sent if r[8])
    ok_sent = [r for r in sent if r[5] == 201]
    lat = [r[3] - r[2] for r in ok_sent]
    all_lat = [r[3] - r[2] for r in sent]
    p99 = pct(lat, 99) if lat else float("nan")
    open_loop = run["mode"] == "open"
    rate_target = run["mode"] == "json"  # capacity: the closed loop's
    p99_target = open_loop  # latency: at the target rate offered
    everything_answered = bool(lat) and len(ok_sent) == len(sent)
    if rate_target:
        ok = everything_answered and rate >= TARGET_RATE
    elif p99_target:
        ok = everything_answered and p99 < TARGET_P99
    else:
        ok = everything_answered

    name = {
        "json": "1. JSON records, closed loop",
        "open": f"1b. JSON records, open loop at {args.rate:g}/s offered",
        "upload": "2. Multipart uploads",
        "batch": f"3. Batches of {args.batch_size} JSON records (POST /api/v1/records/batch)",
    }[run["mode"]]
    title = (
        f"{name}: "
        + (f"{duration:g} s" if open_loop else f"{run['clients']} clients x {duration:g} s")
        + (f" ({args.upload_size:,}-byte files)" if run["mode"] == "upload" else "")
        + f", gunicorn {server_shape(args)}, period {args.period:g} s"
    )
    table = Table(title)
    table.add(
        "records/s (records in 201 answers received in the window)"
        if batch
        else "records/s (201 answers received in the window)",
        f"{rate:,.1f}",
        f">= {TARGET_RATE}" if rate_target else "",
        verdict(rate >= TARGET_RATE) if rate_target else "",
    )
    if batch:
        table.add(
            "  requests/s (201 answers), records per request",
            f"{rate / per_request:,.2f}, {per_request}",
        )
        table.add("  (another endpoint: not the single-record figure of run 1)", "")
    table.add(
        "requests started in the window" if open_loop else "requests sent in the window",
        fmt_int(len(sent)) + (f" ({len(sent) / duration:,.1f}/s)" if open_loop else ""),
    )
    table.add(
        "  answers by status",
        ", ".join(f"{s if s else 'no answer'}: {n:,}" for s, n in sorted(statuses.items())),
    )
    for message, n in errors.most_common(3):
        table.add(f"  client error x{n}", message[:70])
    if lat:
        table.add("latency p50 (201s)", f"{pct(lat, 50):.3f} s")
        table.add("latency p90", f"{pct(lat, 90):.3f} s")
        table.add(
            "latency p99",
            f"{p99:.3f} s",
            f"< {TARGET_P99:g} s" if p99_target else "",
            verdict(p99 < TARGET_P99) if p99_target else "",
        )
        table.add("latency max", f"{max(lat):.3f} s")
        table.add("latency mean", f"{statistics.fmean(lat):.3f} s")
        if len(all_lat) != len(lat):
            table.add("latency p99, every answer", f"{pct(all_lat, 99):.3f} s")
    if not open_loop:
        little = run["clients"] * per_request / statistics.fmean(lat) if lat else 0
        table.add(
            "  closed-loop ceiling: clients"
            + (" x records per request" if batch else "")
            + " / mean latency",
            f"{little:,.1f} /s",
        )

    # Where the latency goes: the answer's recorded_at (taken in register(), before the
    # INSERT) and its entry's integrated_at (the batch's timestamp, taken after the pool
    # is read and hashed, before the rows are written); every process reads one clock.
    bodies, sent_digests = {}, {}  # by (client, request) or, in batches, (client, request, item)
    for r in ok_sent:
        body = json.loads(r[7])
        if batch:
            assert len(body["records"]) == len(r[6][0]) == per_request, "a batch answer is short"
            for j, record in enumerate(body["records"]):
                bodies[(r[0], r[1], j)] = record
                sent_digests[(r[0], r[1], j)] = tuple(r[6][0][j])
        else:
            bodies[(r[0], r[1])] = body
            sent_digests[(r[0], r[1])] = r[6]
    if batch and ok_sent:
        table.add(
            "  answer size (mean)", f"{statistics.fmean(len(r[7]) for r in ok_sent):,.0f} bytes"
        )
    integrated = dict(
        Entry.objects.filter(index__in=[b["ledger"]["index"] for b in bodies.values()]).values_list(
            "index", "integrated_at"
        )
    )
    to_record, to_batch, after = [], [], []
    sent_by_key = {(r[0], r[1]): r for r in ok_sent}
    for key, body in bodies.items():
        r = sent_by_key[key[:2]]
        recorded = datetime.fromisoformat(body["recorded_at"]).timestamp()
        batch = integrated[body["ledger"]["index"]].timestamp()
        received = r[4] + (r[3] - r[2])
        to_record.append(recorded - r[4])
        to_batch.append(batch - recorded)
        after.append(received - batch)
    if lat:
        table.add(
            "  sent -> recorded_at (HTTP, auth, register) p50/p99",
            f"{pct(to_record, 50):.3f} / {pct(to_record, 99):.3f} s",
        )
        table.add(
            "  recorded_at -> its batch (pooled, waiting) p50/p99",
            f"{pct(to_batch, 50):.3f} / {pct(to_batch, 99):.3f} s",
        )
        table.add(
            "  batch -> answer (batch, poll, receipt) p50/p99",
            f"{pct(after, 50):.3f} / {pct(after, 99):.3f} s",
        )
    cps = list(
        Checkpoint.objects.filter(
            created_at__gte=datetime.fromtimestamp(time.time() - (time.monotonic() - w0), UTC),
            created_at__lte=datetime.fromtimestamp(time.time() - (time.monotonic() - w1), UTC),
        ).order_by("tree_size")
    )
    if len(cps) > 1:
        gaps = [
            (b.created_at - a.created_at).total_seconds()
            for a, b in zip(cps, cps[1:], strict=False)
        ]
        sizes = [b.tree_size - a.tree_size for a, b in zip(cps, cps[1:], strict=False)]
        table.add("batches in the window", str(len(cps)))
        table.add(
            "  time between batches (median/max)",
            f"{statistics.median(gaps):.3f} / {max(gaps):.3f} s",
        )
        table.add(
            "  entries per batch (median/max)",
            f"{statistics.median(sizes):,.0f} / {max(sizes):,}",
        )
    ours, ours_active, total = run["connections"]
    max_conn = int(_show("max_connections"))
    table.add(
        "peak PostgreSQL connections: this db (active) / all",
        f"{ours} ({ours_active}) / {total} of {max_conn}",
    )

    waits = run["waits"]
    if waits:
        table.add("active backends of this db (mean), all", f"{sum(n for _, n in waits):.1f}")
        for event, n in waits[:6]:
            table.add(f"  {event}", f"{n:.1f}")

    # Verify a sample of answers (untimed): checkpoint signature, inclusion proof, the
    # entry at the index rebuilt from the record row, and the digests that were sent.
    rng = random.Random(args.seed)
    keys_ok = list(bodies)
    sample = (
        keys_ok
        if not args.verify_sample
        else rng.sample(keys_ok, min(len(keys_ok), args.verify_sample))
    )
    verifier = keys.verifier()
    stored = dict(
        Entry.objects.filter(index__in=[bodies[k]["ledger"]["index"] for k in sample]).values_list(
            "index", "data"
        )
    )
    records = {
        r.code: r
        for r in Record.objects.filter(
            code__in=[codes.normalize(bodies[k]["code"]) for k in sample]
        ).select_related("court")
    }
    for key in sample:
        body, ledger = bodies[key], bodies[key]["ledger"]
        cp = open_checkpoint(ledger["checkpoint"], verifier, origin=settings.LEDGER_ORIGIN)
        assert cp.size == ledger["tree_size"], "answer's tree size differs from its checkpoint"
        leaf_hash = bytes.fromhex(ledger["leaf_hash"])
        proof = [bytes.fromhex(h) for h in ledger["inclusion_proof"]]
        merkle.verify_inclusion(leaf_hash, ledger["index"], cp.size, proof, cp.root_hash)
        data = bytes(stored[ledger["index"]])
        assert merkle.leaf_hash(data) == leaf_hash, "answer's leaf hash is not its entry's"
        record = records[codes.normalize(body["code"])]
        rebuilt = entries.record_leaf(
            category=ledger.CATEGORY_NUMBERS[record.category],
            court=record.court.code,
            code=record.code,
            sha256=bytes.fromhex(record.sha256),
            sm3=bytes.fromhex(record.sm3),
            metadata_digest=entries.salted_digest(
                bytes(record.metadata_salt), ledger.metadata(record)
            ),
            timestamp_ms=int(record.recorded_at.timestamp() * 1000),
        )
        assert rebuilt.encode() == data, "the entry is not the leaf of the record"
        parsed = leaf.decode(data)
        r = sent_by_key[key[:2]]
        sent_sha, sent_sm = sent_digests[key]
        assert parsed.sha256.hex() == sent_sha == body["sha256"], "sha256 differs from the sent"
        if run["mode"] in ("json", "open", "batch"):
            assert parsed.sm3.hex() == sent_sm == body["sm3"], "sm3 differs from the sent one"
        else:
            from anchoring.digest import digests

            content = upload_content(args.seed, r[0], r[1], args.upload_size)
            sha, sm = digests(content)
            assert (parsed.sha256, parsed.sm3) == (sha, sm), "digests differ from the file's"
            assert body["size"] == args.upload_size
    table.add("answers verified", f"{len(sample)} of {len(bodies)}, all valid")

    # CPU over the window, by process.
    cpu = run["cpu"]
    if cpu:
        cores = os.cpu_count() or 1
        wall = duration
        pg_other, pg_background = run["pg_other"], run["pg_background"]
        pg_ours = cpu.get("postgres", 0.0) - pg_other - pg_background
        rows = [
            ("gunicorn (master + workers)", cpu["gunicorn"]),
            *[
                (f"  {k.strip()}", cpu[k])
                for k in sorted(cpu)
                if k.startswith("  worker")  # workers are part of gunicorn's figure
            ],
            ("sequencer (manage.py sequencer)", cpu["sequencer"]),
            ("PostgreSQL backends of this database", pg_ours),
            ("PostgreSQL background (WAL writer, checkpointer...)", pg_background),
            ("client (load generator)", cpu["client"]),
            ("this benchmark process (samplers)", cpu["bench"]),
        ]
        mine = sum(v for k, v in rows if not k.startswith("  "))
        table.add("CPU over the window: core-seconds, share of the 2 cores", "")
        for label, value in rows:
            table.add(f"  {label}", _cpu_cell(value, wall, cores))
        table.add("  PostgreSQL backends of other databases", _cpu_cell(pg_other, wall, cores))
        table.add(
            "  everything else (other processes, kernel)",
            _cpu_cell(cpu["_busy"] - mine - pg_other, wall, cores),
        )
        table.add("  machine busy", _cpu_cell(cpu["_busy"], wall, cores))
        if cpu.get("_steal") or cpu.get("_iowait"):
            table.add("  iowait / steal", f"{cpu['_iowait']:.1f} / {cpu['_steal']:.1f} s")
        if rate:
            records = rate * wall
            table.add(
                "CPU per record: gunicorn / PostgreSQL (this db + background)",
                f"{cpu['gunicorn'] / records * 1000:.2f} / "
                f"{(pg_ours + pg_background) / records * 1000:.2f} ms",
            )

    # Server-side errors in gunicorn's log (5xx tracebacks, connection refusals).
    text = gunicorn_log.read_text(errors="replace")[log_offset:]
    found = Counter()
    for pattern in (
        r"too many clients already",
        r"remaining connection slots are reserved",
        r"OperationalError",
        r"Internal Server Error",
        r"WORKER TIMEOUT",
        r"Traceback",
    ):
        n = len(re.findall(pattern, text))
        if n:
            found[pattern] = n
    if not found:
        table.add("gunicorn log (warm-up, window, drain): errors", "none")
    for pattern, n in found.items():
        table.add(f"gunicorn log (warm-up, window, drain): {pattern!r}", f"x {n:,}")
    # Where the 500s were raised: the innermost frame of the project's code in each
    # logged "Internal Server Error" (the last traceback of a chained exception).
    origins: Counter = Counter()
    frame = re.compile(
        r'File "' + re.escape(str(ROOT)) + r'/((?:documents|anchoring|portal)/[^"]+)", '
        r"line (\d+), in (\w+)"
    )
    for block in re.split(r"(?=Internal Server Error)", text)[1:]:
        frames = frame.findall(block)
        if frames:
            origins[f"{frames[-1][0]}:{frames[-1][1]} {frames[-1][2]}"] += 1
    for origin, n in origins.most_common(4):
        table.add(f"  500 raised in {origin}", f"x {n:,}")
    answered = sum(per_request for r in results if r[5] == 201)
    return table, {"rate": rate, "p99": p99, "ok": ok, "statuses": statuses, "answered": answered}


def _cpu_cell(seconds: float, wall: float, cores: int) -> str:
    return f"{seconds:7.1f} s {seconds / (wall * cores) * 100:5.1f}%"


def _show(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


# --- Profile (py-spy, untimed) ----------------------------------------------------------


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")
PROJECT = ("anchoring/", "documents/", "portal/")


def _short(path: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def read_stacks(path: Path) -> list[tuple[list[tuple[str, str, int]], int]]:
    """py-spy's raw (collapsed) output: one stack per line, root first, then a count."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = []
            for raw in stack.split(";"):
                m = FRAME.match(raw)
                if m:
                    frames.append((m["func"], _short(m["file"]), int(m["line"])))
            stacks.append((frames, int(count)))
    return stacks


def profile_report(label: str, stacks, top: int = 25, parts: bool = False) -> None:
    """Where the sampled CPU went: by line of the project's code (inclusive), by function
    (self), and for gunicorn a split by part of the request and by kind of work."""
    total = sum(n for _, n in stacks)
    if not total:
        print(f"\n  {label}: no samples")
        return
    print(f"\n  {label}: {total:,} samples (threads holding the GIL)")
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
            func, file, _line = frames[-1]
            self_fn[f"{file} {func}"] += n
    if parts:
        print("    by part of the request (each sample counted once, first rule that matches):")
        for key, n in sorted(_classify(stacks, PARTS).items(), key=lambda kv: -kv[1]):
            print(f"      {n / total * 100:5.1f}%  {key}")
        print("    by kind of work, across the parts (a sample can count in several):")
        for key, match in KINDS:
            n = sum(c for frames, c in stacks if match(frames))
            print(f"      {n / total * 100:5.1f}%  {key}")
    print(f"    inclusive, by line of the project's code (top {top}):")
    for key, n in incl.most_common(top):
        print(f"      {n / total * 100:5.1f}%  {key}")
    print(f"    self time, by function (top {top}):")
    for key, n in self_fn.most_common(top):
        print(f"      {n / total * 100:5.1f}%  {key}")


def _has(frames, func: str, file: str = "") -> bool:
    """A frame of function `func` (a name or a dotted tail of the qualified name) in a file
    whose path contains `file`."""
    return any((fn == func or fn.endswith("." + func)) and file in fl for fn, fl, _ in frames)


PARTS = [
    (
        "ledger-waiters poller thread (one per process, sequencer.py _Waiters._poll)",
        lambda f: _has(f, "_Waiters._poll"),
    ),
    (
        "token auth: SELECT token, UPDATE last_used_at (documents/auth.py)",
        lambda f: _has(f, "CourtTokenAuthentication.authenticate"),
    ),
    (
        "TokenUse INSERT (documents/api.py finalize_response)",
        lambda f: _has(f, "CourtAPIView.finalize_response") and _has(f, "create", "django/db"),
    ),
    (
        "body parsing and RecordInput validation (DRF)",
        lambda f: (
            _has(f, "is_valid")
            or _has(f, "Request._parse")
            or _has(f, "Request._load_data_and_files")
        ),
    ),
    (
        "register(): code check, INSERT submission + record, commit",
        lambda f: _has(f, "register", "documents/registration.py"),
    ),
    (
        "wait(): first look-up, then close the connection",
        lambda f: (
            _has(f, "wait", "anchoring/sequencer.py") and not _has(f, "receipt", "anchoring/")
        ),
    ),
    (
        "receipt(): newest checkpoint, entry, inclusion proof (new connection)",
        lambda f: _has(f, "receipt", "anchoring/sequencer.py"),
    ),
    ("_remember(): UPDATE ledger_index", lambda f: _has(f, "_remember", "documents/")),
    ("record_json(): answer body, events query", lambda f: _has(f, "record_json", "documents/")),
    (
        "DRF response rendering (JSON)",
        lambda f: _has(f, "rendered_content") or _has(f, "render", "rest_framework/renderers"),
    ),
    (
        "logging 5xx errors (traceback formatting)",
        lambda f: any(fl.endswith("traceback.py") or "logging/" in fl for _, fl, _ in f),
    ),
    ("request_started/finished: close_old_connections", lambda f: _has(f, "close_old_connections")),
    (
        "rest of the DRF view (dispatch, initial, permissions)",
        lambda f: _has(f, "APIView.dispatch"),
    ),
    (
        "rest of Django (WSGI handler, middleware, URL resolving)",
        lambda f: _has(f, "WSGIHandler.__call__"),
    ),
    (
        "gunicorn (HTTP parsing, sockets, event loop, thread pool)",
        lambda f: any(fl.startswith("gunicorn/") for _, fl, _ in f),
    ),
    (
        "thread pool hand-off (concurrent.futures)",
        lambda f: any("concurrent/futures" in fl for _, fl, _ in f),
    ),
]

KINDS = [
    (
        "opening PostgreSQL connections (Django connect, psycopg connect)",
        lambda f: _has(f, "BaseDatabaseWrapper.connect"),
    ),
    ("closing PostgreSQL connections", lambda f: _has(f, "BaseDatabaseWrapper.close")),
    (
        "psycopg executing statements (binding, send, wait, fetch)",
        lambda f: _has(f, "Cursor.execute", "psycopg/"),
    ),
    (
        "Django ORM building and compiling SQL",
        lambda f: (
            _has(f, "as_sql", "django/db/models/sql")
            or _has(f, "QuerySet.filter")
            or _has(f, "QuerySet._filter_or_exclude")
        ),
    ),
    (
        "Merkle hashing and tiles (anchoring/merkle.py, tiles.py)",
        lambda f: any(fl in ("anchoring/merkle.py", "anchoring/tiles.py") for _, fl, _ in f),
    ),
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


def connection_cost(samples: int = 200) -> tuple[float, float, float, float]:
    """Client wall time and PostgreSQL CPU per cycle, for the token look-up on a new
    connection each time versus on one open connection: what CONN_MAX_AGE=0 costs.
    PostgreSQL CPU is the whole server's (other sessions included) over each loop."""
    from django.db import connection

    from documents.models import CourtToken

    pm = postmaster_pid()
    cpu = Cpu({"postgres": pm} if pm else {})

    def lookup():
        CourtToken.objects.select_related("court").filter(digest="0" * 64).first()

    out = []
    for fresh in (False, True):
        connection.close()
        lookup()
        before, t0 = cpu.snapshot(), time.perf_counter()
        for _ in range(samples):
            if fresh:
                connection.close()
            lookup()
        wall = time.perf_counter() - t0
        connection.close()  # a fresh backend exits here: its CPU is reaped into the parent
        time.sleep(0.2)
        after = cpu.snapshot()
        out += [
            wall / samples * 1000,
            (after.get("postgres", 0) - before.get("postgres", 0)) / samples * 1000,
        ]
    return tuple(out)


# --- Main -------------------------------------------------------------------------------


_bench_lock = None  # the connection holding the run's advisory lock, open until exit


def lock_benchmark(url: str) -> None:
    """Refuse to start while another run uses the same benchmark database."""
    global _bench_lock
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True)
    key = f"bench/court_api.py {name}"
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()[0]:
        conn.close()
        raise SystemExit(f"another bench/court_api.py run is using database {name!r}; wait")
    _bench_lock = conn


def setup_django(args) -> None:
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
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def create_court() -> str:
    from documents.models import Court, CourtToken

    court = Court.objects.create(code="BENCH01", name_zh="基准测试法院", name_en="Bench Court")
    _, token = CourtToken.issue(court, "bench/court_api.py")
    return token


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client_spec:
        return client_main(args.client_spec)

    try:
        import aiohttp  # the client needs it: checked before anything is dropped
    except ImportError:
        raise SystemExit("bench/court_api.py needs aiohttp: pip install aiohttp") from None
    started = time.perf_counter()
    lock_benchmark(args.database_url)
    pg_version = recreate_database(args.database_url)
    setup_django(args)
    from django.conf import settings
    from django.db import connection

    from anchoring import keys, sequencer
    from documents.models import Record

    print("Court API benchmark" + (" (--quick)" if args.quick else ""))
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
    print(
        f"  LEDGER_BATCH_SIZE {settings.LEDGER_BATCH_SIZE}, LEDGER_SUBMIT_POLL "
        f"{settings.LEDGER_SUBMIT_POLL} s, LEDGER_SUBMIT_TIMEOUT "
        f"{settings.LEDGER_SUBMIT_TIMEOUT:g} s, CONN_MAX_AGE {conn_max_age}"
    )
    import aiohttp
    import gunicorn

    print(f"  gunicorn {gunicorn.__version__}, aiohttp {aiohttp.__version__} (client)")
    print("  load average before the run: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"  options: {vars(args)}", flush=True)

    keys.signer()  # the key exists before the other processes read it
    sequencer.integrate()  # the empty log's first checkpoint
    token = create_court()
    # This process keeps its connection from here on: with max_connections exhausted by
    # the server under test, a new one could not be had for the analysis.
    pm = postmaster_pid()
    procs = Processes()
    sampler = PgSampler(args.database_url, pm)
    sampler.exclude.add(connection.connection.info.backend_pid)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    for s in previous:
        signal.signal(s, terminate)
    results: dict = {}
    answered = 0
    try:
        port, glog, gunicorn_proc, seq_log = start_server(args, procs, settings)
        seq_proc = next(p for n, p in procs.procs if n == "sequencer")
        workers = sorted(children(gunicorn_proc.pid))
        groups: dict = {
            "gunicorn": gunicorn_proc.pid,
            "sequencer": seq_proc.pid,
            "postgres": pm or [],
            "bench": [os.getpid()],
        }
        for n, pid in enumerate(workers, 1):
            groups[f"  worker {n}"] = [pid]
        cpu = Cpu(groups)
        sampler.start()
        note(
            f"gunicorn on 127.0.0.1:{port} ({server_shape(args)}; worker pids {workers}), "
            f"sequencer pid {seq_proc.pid}"
        )
        runs = []
        if "json" in args.runs:
            runs.append(("json", args.clients, args.duration))
        if "open" in args.runs:
            runs.append(("open", args.client_processes, args.open_duration))
        if "upload" in args.runs:
            runs.append(("upload", args.upload_clients, args.upload_duration))
        if "batch" in args.runs:
            runs.append(("batch", args.batch_clients, args.batch_duration))
        for mode, clients, duration in runs:
            load = f"{args.rate:g}/s offered" if mode == "open" else f"{clients} clients"
            note(f"{mode}: {load}, {args.warmup:g} s warm-up then {duration:g} s measured")
            offset = glog.stat().st_size
            run = run_load(
                args,
                procs,
                mode=mode,
                clients=clients,
                port=port,
                token=token,
                warmup=args.warmup,
                duration=duration,
                cpu=cpu,
                sampler=sampler,
            )
            table, figures = analyse(args, run, glog, offset)
            answered += figures["answered"]
            table.add(
                "records in the database / records in 201 answers (all runs so far)",
                f"{Record.objects.count():,} / {answered:,}",
            )
            table.print()
            results[mode] = figures

        missed = any(not results[m]["ok"] for m in ("json", "open") if m in results)
        if args.profile == "always" or (args.profile == "auto" and missed):
            spy = py_spy()
            if spy is None:
                print("\nProfile skipped: py-spy not found (pip install py-spy)")
            else:
                profile_run(args, procs, spy, port, token, workers, seq_proc.pid, sampler)
        text = seq_log.read_text().strip()
        if text:
            print("  sequencer stderr (last lines):\n    " + "\n    ".join(text.splitlines()[-8:]))
    finally:
        sampler.stop.set()
        procs.stop_all()
        for s, handler in previous.items():
            signal.signal(s, handler)

    summary = Table("Summary against the targets")
    if "json" in results:
        r = results["json"]
        summary.add(
            f"JSON records/s, closed loop, {args.clients} clients",
            f"{r['rate']:,.1f}",
            f">= {TARGET_RATE}",
            verdict(r["ok"]),
        )
        summary.add(
            "  its p99 latency (clients / throughput at saturation; no target)",
            f"{r['p99']:.3f} s",
        )
    if "open" in results:
        r = results["open"]
        summary.add(f"JSON records/s answered at {args.rate:g}/s offered", f"{r['rate']:,.1f}")
        summary.add(
            f"  p99 latency there, period {args.period:g} s, every request answered 201",
            f"{r['p99']:.3f} s",
            f"< {TARGET_P99:g} s",
            verdict(r["ok"]),
        )
    if "upload" in results:
        r = results["upload"]
        summary.add(
            f"multipart ({args.upload_size:,} B) records/s, {args.upload_clients} clients",
            f"{r['rate']:,.1f}",
        )
        summary.add("multipart p99 latency", f"{r['p99']:.3f} s")
    if "batch" in results:
        r = results["batch"]
        summary.add(
            f"batch endpoint records/s ({args.batch_size} per request, {args.batch_clients} "
            "clients; not the single-record figure)",
            f"{r['rate']:,.1f}",
        )
        summary.add("batch endpoint p99 latency per request", f"{r['p99']:.3f} s")
    summary.print()
    for path in (glog, seq_log):
        path.unlink(missing_ok=True)
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


def profile_run(args, procs, spy, port, token, workers, seq_pid, sampler) -> None:
    clients = args.profile_clients or args.clients
    out = {
        **{
            f"gunicorn worker {n}": Path(tempfile.mkstemp(suffix=".txt")[1])
            for n in range(1, len(workers) + 1)
        },
        "sequencer": Path(tempfile.mkstemp(suffix=".txt")[1]),
    }
    pids = dict(zip(out, [*workers, seq_pid], strict=True))
    print(
        f"\nProfile: the JSON load again ({clients} clients), py-spy sampling each "
        f"gunicorn worker and the sequencer for {args.profile_duration:g} s at 100 Hz, "
        "only the thread holding the GIL (py-spy --gil). An untimed pass: py-spy pauses "
        "each process to sample it, so its figures are shares, not times"
    )
    spies = []

    def start_spies():
        for label, path in out.items():
            spies.append(
                procs.start(
                    "py-spy",
                    [
                        spy,
                        "record",
                        "--pid",
                        str(pids[label]),
                        "--duration",
                        str(int(args.profile_duration)),
                        "--rate",
                        "100",
                        "--gil",
                        "--format",
                        "raw",
                        "--output",
                        str(path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    run_load(
        args,
        procs,
        mode="json",
        clients=clients,
        port=port,
        token=token,
        warmup=args.warmup,
        duration=args.profile_duration,
        cpu=None,
        sampler=sampler,
        on_window=start_spies,
    )
    for p in spies:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=30)
    workers_stacks = []
    for label, path in out.items():
        stacks = read_stacks(path) if path.exists() else []
        if label.startswith("gunicorn"):
            n = sum(c for _, c in stacks)
            note(f"{label}: {n:,} samples")
            workers_stacks += stacks
    profile_report("gunicorn workers (together)", workers_stacks, parts=True)
    profile_report(
        "sequencer", read_stacks(out["sequencer"]) if out["sequencer"].exists() else [], top=12
    )
    for path in out.values():
        path.unlink(missing_ok=True)
    try:
        keep, keep_pg, fresh, fresh_pg = connection_cost()
    except Exception as exc:  # e.g. no connection slot left
        print(f"\n  connection cost not measured: {type(exc).__name__}: {exc}")
        return
    print(
        "\n  The token look-up (auth.py's first query), 200 times from this process:\n"
        f"    on one open connection:            {keep:6.2f} ms each, PostgreSQL CPU "
        f"{keep_pg:5.2f} ms each\n"
        f"    on a new connection each time:     {fresh:6.2f} ms each, PostgreSQL CPU "
        f"{fresh_pg:5.2f} ms each\n"
        "    (with CONN_MAX_AGE=0 every request opens two: one before the wait for the batch, "
        "one after it)"
    )


if __name__ == "__main__":
    sys.exit(main())
