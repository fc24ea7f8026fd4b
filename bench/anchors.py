#!/usr/bin/env python
"""Trusted time and chain anchors: what they cost per checkpoint, how long a record waits
for them, and what they take from the court API's throughput.

Two real RFC 3161 TSAs (`openssl ts -reply` behind tests/tsa_server.py, one RSA, one EC,
their CAs made by tests/tsa.py) and a real EVM node (anvil, tests/chain.py) run on this
machine; the portal runs production settings (DEMO_TSA and DEMO_CHAIN off).

1. Cost per checkpoint, in-process: for each new published checkpoint,
   timestamps.timestamp_newest() with one TSA configured (the request, the round trip,
   the token's verification, the row), and chain_anchors.anchor_newest() on anvil mining
   each transaction at once: the round that sends the anchor (build, sign, send), a
   round reading it while it is too shallow, one that confirms it (after anvil_mine), and
   an idle round. Wall and CPU per call, the RPCs per round, the TSA's and anvil's CPU,
   the bytes stored and the gas used.
2. Delay: anvil mines a block a second; `manage.py sequencer` (1 s batches) timestamps
   with both TSAs and anchors on anvil; gunicorn serves the court API. A record is POSTed
   every --interval seconds; after its 201 the client polls
   GET /api/v1/ledger/timestamps?covering=<index> and /anchors?covering=<index> until
   each serves evidence: submission to receipt, to "timestamped", to "anchored and
   confirmed". Each served token is verified, each anchor read back from the node.
3. Throughput: the court API's closed loop (json, 1,200 clients) and open loop (open,
   300/s) of bench/court_api.py with the sequencer's timestamper and anchoring threads
   off, then on (--on: both, or one of them; the TSAs and anvil run in both). Targets:
   records/s does not drop by more than --tolerance (5%), every request is answered 201,
   and the open loop's p99 stays under the court API's 2.5 s; answers are checked as
   court_api.py checks them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import court_api
import harness
from harness import Table, note, pct
from ledger import make_leaf

QUICK = {
    "tokens": 10,
    "anchors": 5,
    "interval": 1.5,
    "delay_duration": 10.0,
    "anchor_period": 5.0,
    "confirmations": 2,
    "duration": 5.0,
    "warmup": 2.0,
    "check": 100,
}
FULL = {
    "tokens": 50,
    "anchors": 30,
    "interval": 2.5,
    "delay_duration": 60.0,
    "anchor_period": 10.0,
    "confirmations": 5,
    "duration": 20.0,
    "warmup": 5.0,
    "check": 500,
}
WARM = 3  # untimed calls before each timed series (imports, connections, caches)


# --- The TSAs and the node ---------------------------------------------------------------


def start_services(args, stack: contextlib.ExitStack) -> dict:
    """Before Django: an RSA and an EC TSA served by `openssl ts -reply`, anvil (mining
    each transaction at once until step 2), the sender's key file; the settings naming
    them."""
    from tests.chain import CHAIN_ID, Anvil, key_file
    from tests.tsa import make_authority, serving

    home = Path(tempfile.mkdtemp(prefix="bench-anchors-"))
    atexit.register(shutil.rmtree, home, True)
    tsas = {
        kind: stack.enter_context(serving(make_authority(home / kind, kind)))
        for kind in ("rsa", "ec")
    }
    anvil = Anvil()
    anvil.start()
    stack.callback(anvil.stop)
    note(
        f"TSAs: rsa {tsas['rsa'].url}, ec {tsas['ec'].url} (openssl ts -reply); "
        f"anvil {anvil.url}, chain {CHAIN_ID}"
    )
    settings = {
        "DEMO_TSA": "",
        "DEMO_CHAIN": "",
        "LEDGER_TSA_URLS": ",".join(s.url for s in tsas.values()),
        "LEDGER_TSA_CA_FILES": ",".join(str(s.authority.ca_pem) for s in tsas.values()),
        "LEDGER_TIMESTAMP_PERIOD": f"{args.timestamp_period:g}",
        "LEDGER_CHAIN_RPC_URL": anvil.url,
        "LEDGER_CHAIN_ID": str(CHAIN_ID),
        "LEDGER_CHAIN_KEY_FILE": str(key_file(home)),
        "LEDGER_CHAIN_CONFIRMATIONS": str(args.confirmations),
        "LEDGER_CHAIN_ANCHOR_PERIOD": f"{args.anchor_period:g}",
        "LEDGER_CHAIN_POLL": f"{args.chain_poll:g}",
    }
    return {"tsas": tsas, "anvil": anvil, "settings": settings}


def grow() -> None:
    """One more entry and its published checkpoint (no witnesses: published as signed)."""
    from anchoring import sequencer, store

    size = store.tree_size()
    sequencer.submit(make_leaf(f"anchors bench {size} {time.time_ns()}"))
    assert sequencer.integrate() == 1


class Timed:
    """Wall time of each call of some functions (patched in place), and a count of others,
    while `on`; what a round spent in each part."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list = []

    def time(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original))

    def count(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*a, **kw):
            self.calls[label] = self.calls.get(label, 0) + 1
            return original(*a, **kw)

        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original))

    def reset(self) -> None:
        self.spent, self.calls = {}, {}

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo = []


def _own_backend() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} / {pct(values, 95) * 1000:.1f}"


def series(call, count: int, prepare, timed: Timed, watch: dict[str, int]) -> dict:
    """`count` timed calls, each after `prepare()` (untimed): per call, the wall time and
    this thread's CPU, and each part's wall time (Timed); over the calls alone, the CPU of
    each process of `watch` (name: pid)."""
    out: dict = {
        "wall": [],
        "cpu": [],
        "parts": {},
        "calls": {},
        "watched": dict.fromkeys(watch, 0.0),
    }
    for _ in range(count):
        prepare()
        timed.reset()
        before = {name: harness.cpu_seconds(pid) for name, pid in watch.items()}
        t0, c0 = time.perf_counter(), time.thread_time()
        call()
        out["wall"].append(time.perf_counter() - t0)
        out["cpu"].append(time.thread_time() - c0)
        for name, pid in watch.items():
            out["watched"][name] += harness.cpu_seconds(pid) - before[name]
        for label, spent in timed.spent.items():
            out["parts"].setdefault(label, []).append(spent)
        for label, n in timed.calls.items():
            out["calls"].setdefault(label, []).append(n)
    return out


def _merge(into: dict, got: dict) -> None:
    """Add one series' figures to another's."""
    into["wall"] += got["wall"]
    into["cpu"] += got["cpu"]
    for key in ("parts", "calls"):
        for label, values in got[key].items():
            into[key].setdefault(label, []).extend(values)
    for name, seconds in got["watched"].items():
        into["watched"][name] = into["watched"].get(name, 0.0) + seconds


def step_cost(args, services: dict, summary: Table) -> None:
    """1. The TSA round trip and the anchor transaction per checkpoint, in-process."""
    from django.conf import settings

    from anchoring import chain, chain_anchors, store, timestamps
    from anchoring import timestamp_token as tokens
    from anchoring.models import ChainAnchor, ChainState, CheckpointTimestamp

    backend = _own_backend()
    timed = Timed()
    timed.time(timestamps, "ask", "round trip (HTTP, openssl ts -reply)")
    timed.time(tokens, "token_of", "the token read and verified")
    timed.time(tokens, "check", "the token read and verified")
    settings.LEDGER_TIMESTAMP_PERIOD = 0.0
    try:
        for kind, server in services["tsas"].items():
            settings.LEDGER_TSA_URLS = [server.url]

            def stamp() -> None:
                assert timestamps.timestamp_newest() == 1, "the TSA did not timestamp"

            watch = {"TSA": server.proc.pid, "PostgreSQL": backend}
            series(stamp, WARM, grow, timed, watch)
            first = store.tree_size() + 1
            got = series(stamp, args.tokens, grow, timed, watch)
            rows = CheckpointTimestamp.objects.filter(url=server.url, checkpoint_id__gte=first)
            assert rows.count() == args.tokens, "a timestamp is missing"
            sizes = [len(bytes(r.token)) + len(bytes(r.ca)) for r in rows]
            table = Table(
                f"1a. Timestamp per checkpoint, {kind.upper()} TSA: {args.tokens} checkpoints, "
                "timestamp_newest() with this TSA alone"
            )
            table.add("wall: median / p95", f"{_ms(got['wall'])} ms")
            for label, values in got["parts"].items():
                table.add(f"  {label}", f"{_ms(values)} ms")
            rest = [w - sum(p[i] for p in got["parts"].values()) for i, w in enumerate(got["wall"])]
            table.add("  the rest: request, lock, state and token rows", f"{_ms(rest)} ms")
            table.add("CPU of the timestamper's thread: median / p95", f"{_ms(got['cpu'])} ms")
            table.add(
                "CPU per token: the TSA process, PostgreSQL",
                ", ".join(f"{v / args.tokens * 1000:.1f}" for v in got["watched"].values()) + " ms",
            )
            table.add("stored per token (token + CA)", f"{statistics.mean(sizes):,.0f} bytes")
            table.print()
            summary.add(
                f"timestamp per checkpoint, {kind.upper()} TSA: median wall (CPU)",
                f"{statistics.median(got['wall']) * 1000:.1f} ms "
                f"({statistics.median(got['cpu']) * 1000:.1f} ms)",
            )
    finally:
        timed.restore()

    anvil = services["anvil"]
    settings.LEDGER_CHAIN_ANCHOR_PERIOD = 0.0
    confirmations = settings.LEDGER_CHAIN_CONFIRMATIONS
    timed = Timed()
    timed.time(chain.Node, "send", "build, sign, send (Node.send)")
    timed.time(chain.Node, "transaction", "read it back (Node.transaction)")
    timed.count(chain.Node, "_call", "rpc")

    def anchor_round(expect: int):
        def call() -> None:
            assert chain_anchors.anchor_newest() == expect
            assert ChainState.objects.get().ok, ChainState.objects.get().last_error

        return call

    # Per checkpoint: the round that sends its anchor (anvil mines it at once), one that
    # reads it one block deep, one that confirms it once anvil_mine made it deep enough,
    # and one with nothing to do.
    plan = (
        ("sends the anchor", 1, grow),
        ("reads it, too shallow", 0, anvil.settle),
        ("reads it, confirms it", 0, lambda: anvil.mine(confirmations - 1)),
        ("nothing to do", 0, lambda: None),
    )
    watch = {"anvil": anvil.proc.pid, "PostgreSQL": backend}
    rounds: dict[str, dict] = {}
    try:
        for n in range(WARM + args.anchors):
            if n == WARM:
                first = store.tree_size() + 1
            for name, expect, prepare in plan:
                got = series(anchor_round(expect), 1, prepare, timed, watch)
                if n >= WARM:
                    _merge(
                        rounds.setdefault(
                            name, {"wall": [], "cpu": [], "parts": {}, "calls": {}, "watched": {}}
                        ),
                        got,
                    )
            anchor = ChainAnchor.objects.get(checkpoint=store.latest_checkpoint())
            assert anchor.state == ChainAnchor.State.CONFIRMED, anchor.state
            assert anchor.confirmations == confirmations
    finally:
        timed.restore()
    anchors = list(ChainAnchor.objects.filter(checkpoint_id__gte=first))
    assert len(anchors) == args.anchors, "an anchor is missing"
    rpc = chain_anchors.node()
    gas = []
    for anchor in anchors:
        tx = rpc.transaction(anchor.transaction_hash)
        assert tx is not None and tx.data == chain_anchors.data_of(anchor.checkpoint)
        assert tx.block_hash == anchor.block_hash
        receipt = anvil.rpc("eth_getTransactionReceipt", anchor.transaction_hash)
        gas.append(int(receipt["gasUsed"], 16))
    table = Table(
        f"1b. Chain anchor per checkpoint, anvil mining each transaction at once: "
        f"{args.anchors} checkpoints, {confirmations} confirmations, anchor_newest() rounds"
    )
    for name, got in rounds.items():
        rpcs = statistics.median(got["calls"].get("rpc", [0]))
        table.add(f"a round that {name}: wall median / p95", f"{_ms(got['wall'])} ms")
        table.add("  JSON-RPC calls", f"{rpcs:.0f}")
        for label, values in got["parts"].items():
            table.add(f"  {label}", f"{_ms(values)} ms")
        table.add("  CPU of the anchoring thread", f"{_ms(got['cpu'])} ms")
        table.add(
            "  CPU per round: anvil, PostgreSQL",
            ", ".join(f"{v / args.anchors * 1000:.1f}" for v in got["watched"].values()) + " ms",
        )
    table.add("gas per anchor transaction (73 bytes of data)", f"{statistics.median(gas):,.0f}")
    table.add("transactions read back: data, block", f"{len(anchors)}, all the checkpoint's")
    table.print()
    send, shallow, confirm = (
        statistics.median(rounds[name]["wall"]) * 1000 for name, _, _ in plan[:3]
    )
    summary.add(
        "anchor per checkpoint: the round sending it + the round confirming it, median wall",
        f"{send:.1f} + {confirm:.1f} ms",
    )
    summary.add("a round reading it while in flight (every poll), median wall", f"{shallow:.1f} ms")
    # the settings of the processes to come, as the environment gives them
    settings.LEDGER_TSA_URLS = [s.url for s in services["tsas"].values()]
    settings.LEDGER_TIMESTAMP_PERIOD = args.timestamp_period
    settings.LEDGER_CHAIN_ANCHOR_PERIOD = args.anchor_period


# --- 2. Delay ----------------------------------------------------------------------------


async def _served(session, url: str, key: str, every: float, deadline: float):
    """Poll `url` until its `key` list is not empty: (when, the answer)."""
    while True:
        async with session.get(url) as answer:
            if answer.status != 200:
                raise RuntimeError(f"{url}: HTTP {answer.status}")
            body = await answer.json()
        if body.get(key):
            return time.monotonic(), body
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: nothing served after {deadline:.0f} s")
        await asyncio.sleep(every)


async def submit_and_watch(session, ctx: dict, k: int, i: int):
    """POST a record, then poll for the timestamp and the anchor covering its entry; tag:
    the times (monotonic) and what was served."""
    wall, sent = time.time(), time.monotonic()
    status, body, _ = await court_api.post_record(session, {**ctx, "mode": "json"}, k, i)
    receipt = time.monotonic()
    if status != 201:
        return status, body, None
    index = json.loads(body)["ledger"]["index"]
    api, deadline = ctx["url"] + "/api/v1/ledger/", sent + ctx["deadline"]
    (stamped, timestamps), (anchored, anchors) = await asyncio.gather(
        _served(session, f"{api}timestamps?covering={index}", "timestamps", 0.1, deadline),
        _served(session, f"{api}anchors?covering={index}", "anchors", 0.25, deadline),
    )
    tag = {
        "index": index,
        "wall": wall,
        "receipt": receipt - sent,
        "timestamped": stamped - sent,
        "anchored": anchored - sent,
        "timestamps": timestamps,
        "anchors": anchors,
    }
    return status, body, tag


def check_served(tags: list[dict], confirmations: int) -> None:
    """Every served token verifies over its checkpoint against the pinned CAs; every
    served anchor's transaction holds its checkpoint's byte form, deep enough."""
    import base64

    from anchoring import chain_anchors, timestamps
    from anchoring import timestamp_token as tokens
    from anchoring.models import PublishedCheckpoint

    rpc = chain_anchors.node()
    pins, cas = timestamps.ca_fingerprints(), timestamps.ca_certificates()
    for tag in tags:
        ts, an = tag["timestamps"], tag["anchors"]
        assert ts["size"] > tag["index"] and an["size"] > tag["index"], "not covering"
        message = timestamps.body(PublishedCheckpoint.objects.get(tree_size=ts["size"]).note)
        for token in ts["timestamps"]:
            tokens.check(base64.b64decode(token["token"]), message, pins, cas)
        checkpoint = PublishedCheckpoint.objects.get(tree_size=an["size"])
        for anchor in an["anchors"]:
            tx = rpc.transaction(anchor["transaction_hash"])
            assert tx is not None and tx.data == chain_anchors.data_of(checkpoint)
            assert tx.block_hash == anchor["block_hash"] and tx.confirmations >= confirmations


def step_delay(args, services: dict, servers: harness.Servers, ctx: dict, summary: Table):
    """2. Submission to receipt, to timestamped and to anchored and confirmed."""
    from anchoring.models import ChainAnchor, CheckpointTimestamp, PublishedCheckpoint

    anvil = services["anvil"]
    anvil.rpc("evm_setIntervalMining", 1)  # as `anvil --block-time 1`
    head, since = int(anvil.rpc("eth_blockNumber"), 16), _utc(time.time())
    servers.sequencer()
    time.sleep(2.0)  # its threads' first rounds
    groups = {
        "web": [servers.pid("gunicorn")],
        "sequencer": [servers.pid("sequencer")],
        "TSAs": [s.proc.pid for s in services["tsas"].values()],
        "anvil": [anvil.proc.pid],
    }
    # anchored and confirmed: up to a period's wait for the next anchor, its block, the
    # confirmations and the loop's poll; several times that before giving up
    cycle = args.anchor_period + args.confirmations + 2 * args.chain_poll + 2
    watch = {**ctx, "deadline": 3 * cycle + 30}
    note(
        f"delay: a record every {args.interval:g} s for {args.delay_duration:g} s; anvil "
        f"1 block/s; LEDGER_TIMESTAMP_PERIOD {args.timestamp_period:g}, "
        f"LEDGER_CHAIN_ANCHOR_PERIOD {args.anchor_period:g}, LEDGER_CHAIN_CONFIRMATIONS "
        f"{args.confirmations}, LEDGER_CHAIN_POLL {args.chain_poll:g}"
    )
    window = harness.load(
        submit_and_watch,
        watch,
        groups,
        rate=1 / args.interval,
        warmup=0.0,
        duration=args.delay_duration,
        timeout=30.0,
    )
    servers.stop("sequencer")
    blocks = int(anvil.rpc("eth_blockNumber"), 16) - head
    results = window.started()
    done = [r for r in results if r.status == 201 and r.tag]
    failed = [r for r in results if not (r.status == 201 and r.tag)]
    tags = [r.tag for r in done]
    if not tags:
        errors = sorted({r.error or f"HTTP {r.status}" for r in failed})
        raise SystemExit(f"no record was timestamped and anchored: {errors[:3]}")
    check_served(tags, args.confirmations)

    # where the time went, from the rows (same clock: one machine)
    parts: dict[str, list[float]] = {}
    for r in done:
        tag, wall = r.tag, r.tag["wall"]
        receipt_size = json.loads(r.body)["ledger"]["tree_size"]
        published = PublishedCheckpoint.objects.get(tree_size=receipt_size).published_at
        token = (
            CheckpointTimestamp.objects.filter(checkpoint_id=tag["timestamps"]["size"])
            .order_by("received_at")
            .first()
        )
        anchor = ChainAnchor.objects.get(
            transaction_hash=tag["anchors"]["anchors"][0]["transaction_hash"]
        )
        for name, seconds in (
            ("submitted -> its checkpoint published", published.timestamp() - wall),
            (
                "published -> first covering token stored",
                token.received_at.timestamp() - published.timestamp(),
            ),
            ("submitted -> covering anchor sent", anchor.sent_at.timestamp() - wall),
            (
                "anchor sent -> confirmed (rows)",
                (anchor.checked_at - anchor.sent_at).total_seconds(),
            ),
        ):
            parts.setdefault(name, []).append(seconds)

    def row(values: list[float]) -> str:
        return (
            f"{statistics.median(values):.2f} / {statistics.mean(values):.2f} / {max(values):.2f} s"
        )

    table = Table(
        f"2. Delay: {len(results)} records, one every {args.interval:g} s; anvil 1 block/s; "
        f"timestamp period {args.timestamp_period:g} s, anchor period {args.anchor_period:g} "
        f"s, {args.confirmations} confirmations, chain poll {args.chain_poll:g} s"
    )
    table.add("records answered 201 and watched to the end", f"{len(done)} of {len(results)}")
    for error in sorted({r.error or f"HTTP {r.status}" for r in failed})[:3]:
        table.add("  failed", error[:70])
    timestamped = [t["timestamped"] for t in tags]
    anchored = [t["anchored"] for t in tags]
    table.add("submission -> receipt (201): median / mean / max", row([t["receipt"] for t in tags]))
    table.add("submission -> timestamped (API, polled every 0.1 s)", row(timestamped))
    table.add("submission -> anchored and confirmed (API, every 0.25 s)", row(anchored))
    for name, values in parts.items():
        table.add(f"  {name}", row(values))
    table.add(
        "blocks mined, tokens stored, anchors sent during the step",
        f"{blocks}, {CheckpointTimestamp.objects.filter(received_at__gte=since).count()}, "
        f"{ChainAnchor.objects.filter(sent_at__gte=since).count()}",
    )
    seconds = window.duration
    table.add(
        "CPU over the window, ms per second",
        ", ".join(f"{g} {c / seconds * 1000:.1f}" for g, c in window.cpu.items() if g != "machine"),
    )
    table.add("served tokens verified, anchors read back", f"{len(tags)}, all valid")
    table.print()
    summary.add(
        "submission -> timestamped: median / max",
        f"{statistics.median(timestamped):.2f} / {max(timestamped):.2f} s",
    )
    summary.add(
        f"submission -> anchored and confirmed ({args.confirmations} blocks of 1 s, period "
        f"{args.anchor_period:g} s): median / max",
        f"{statistics.median(anchored):.2f} / {max(anchored):.2f} s",
    )
    assert not failed, f"{len(failed)} records were not timestamped and anchored"


def _utc(wall: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(wall, UTC)


def _wall(monotonic: float):
    """A time.monotonic() of this process as an aware datetime."""
    return _utc(time.time() - (time.monotonic() - monotonic))


# --- 3. Throughput, on and off -----------------------------------------------------------


def step_throughput(args, services: dict, servers: harness.Servers, ctx: dict, summary: Table):
    """3. The court API's loads with the timestamper and anchoring threads off, then on."""
    from anchoring.models import ChainAnchor, CheckpointTimestamp

    parts = {"tsa": {"LEDGER_TSA_URLS": ""}, "chain": {"LEDGER_CHAIN_RPC_URL": ""}}
    turned_on = {x.strip() for x in args.on.split(",") if x.strip()}
    env = {
        "off": {k: v for part in parts.values() for k, v in part.items()},
        "on": {
            k: v for name, part in parts.items() if name not in turned_on for k, v in part.items()
        },
    }
    loads = [x.strip() for x in args.loads.split(",") if x.strip()]
    figures: dict[tuple[str, str], dict] = {}
    for setting in ["off", "on"] * args.pairs:
        servers.sequencer(**env[setting])
        time.sleep(2.0)
        groups = {
            "web": [servers.pid("gunicorn")],
            "sequencer": [servers.pid("sequencer")],
            "TSAs": [s.proc.pid for s in services["tsas"].values()],
            "anvil": [services["anvil"].proc.pid],
        }
        for mode in loads:
            shape = {"clients": args.clients} if mode == "json" else {"rate": args.rate}
            note(f"throughput, {args.on} {setting}: {mode} {shape}")
            window = harness.load(
                court_api.post_record,
                {**ctx, "mode": mode},
                groups,
                warmup=args.warmup,
                duration=args.duration,
                **shape,
            )
            started = window.started()
            latency = [r.end - r.start for r in started if r.status == 201]
            since, until = _wall(window.start), _wall(window.end)
            f = figures.setdefault((mode, setting), {"rate": [], "p50": [], "p99": [], "all": True})
            f["rate"].append(len(window.answered(201)) / window.duration)
            f["p50"].append(pct(latency, 50))
            f["p99"].append(pct(latency, 99))
            f["all"] = f["all"] and bool(latency) and len(latency) == len(started)
            records = len(window.answered(201))
            f.setdefault("cpu", []).append(
                {g: c / records * 1000 for g, c in window.cpu.items()} if records else {}
            )
            f.setdefault("busy", []).append(
                window.cpu["machine"] / (window.duration * (os.cpu_count() or 1))
            )
            f.setdefault("batches", []).append(harness.batches(window.metrics))
            f.setdefault("tokens", []).append(
                CheckpointTimestamp.objects.filter(received_at__range=(since, until)).count()
            )
            f.setdefault("anchors", []).append(
                ChainAnchor.objects.filter(sent_at__range=(since, until)).count()
            )
            f.setdefault("checked", []).append(court_api.check(args, window, mode))
        servers.stop("sequencer")

    for mode in loads:
        what = (
            f"closed loop, {args.clients} clients"
            if mode == "json"
            else f"open loop, {args.rate:g}/s offered"
        )
        table = Table(
            f"3. Court API {what} x {args.duration:g} s, {args.on} off / on"
            + (f" ({args.pairs} pairs, in turn)" if args.pairs > 1 else "")
        )
        off_f, on_f = figures[(mode, "off")], figures[(mode, "on")]

        def both(key: str, fmt: str, pair=(off_f, on_f)) -> str:
            return " / ".join(", ".join(fmt.format(v) for v in fig[key]) for fig in pair)

        table.add("records/s (201s received in the window), off / on", both("rate", "{:,.1f}"))
        table.add("latency p50, off / on", both("p50", "{:.3f} s"))
        table.add("latency p99, off / on", both("p99", "{:.3f} s"))
        table.add("every request answered 201, off / on", f"{off_f['all']} / {on_f['all']}")
        table.add("batches (metrics), off", "; ".join(off_f["batches"]))
        table.add("batches (metrics), on", "; ".join(on_f["batches"]))
        for setting, fig in (("off", off_f), ("on", on_f)):
            groups = [g for g in fig["cpu"][0] if g != "machine"] if fig["cpu"] else []
            table.add(
                f"CPU per record (ms), {setting}",
                "; ".join(", ".join(f"{g} {cpu[g]:.2f}" for g in groups) for cpu in fig["cpu"]),
            )
        table.add("machine busy, off / on", both("busy", "{:.1%}"))
        table.add(
            "tokens stored / anchors sent in the window, on",
            f"{', '.join(map(str, on_f['tokens']))} / {', '.join(map(str, on_f['anchors']))}",
        )
        table.add("answers checked", f"{sum(off_f['checked']) + sum(on_f['checked']):,}, all valid")
        table.print()
        off_rate, on_rate = statistics.mean(off_f["rate"]), statistics.mean(on_f["rate"])
        change = on_rate / off_rate - 1
        ok = change >= -args.tolerance and off_f["all"] and on_f["all"]
        if mode == "json":
            summary.add(
                "closed loop records/s, off -> on",
                f"{off_rate:,.1f} -> {on_rate:,.1f} ({change:+.1%})",
                f"drop < {args.tolerance:.0%}",
                ok,
            )
        else:
            p99 = (statistics.mean(off_f["p99"]), statistics.mean(on_f["p99"]))
            summary.add(
                f"open loop at {args.rate:g}/s: answered/s, off -> on",
                f"{off_rate:,.1f} -> {on_rate:,.1f} ({change:+.1%})",
                f"drop < {args.tolerance:.0%}",
                ok,
            )
            summary.add(
                f"open loop at {args.rate:g}/s: p99, off -> on",
                f"{p99[0]:.3f} -> {p99[1]:.3f} s ({p99[1] - p99[0]:+.3f} s)",
                f"< {court_api.TARGET_P99:g} s on",
                p99[1] < court_api.TARGET_P99 and on_f["all"],
            )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("anchors", __doc__)
    p.add_argument("--steps", default="1,2,3", help="the steps to run")
    p.add_argument("--tokens", type=int, help="step 1: checkpoints timestamped per TSA [50]")
    p.add_argument("--anchors", type=int, help="step 1: checkpoints anchored [30]")
    p.add_argument("--interval", type=float, help="step 2: seconds between records [2.5]")
    p.add_argument("--delay-duration", type=float, help="step 2: seconds of records [60]")
    p.add_argument(
        "--timestamp-period", type=float, default=1.0, help="LEDGER_TIMESTAMP_PERIOD [1]"
    )
    p.add_argument("--anchor-period", type=float, help="LEDGER_CHAIN_ANCHOR_PERIOD [10]")
    p.add_argument("--confirmations", type=int, help="LEDGER_CHAIN_CONFIRMATIONS [5]")
    p.add_argument("--chain-poll", type=float, default=1.0, help="LEDGER_CHAIN_POLL [1]")
    p.add_argument("--loads", default="json,open", help="step 3: json (closed), open")
    p.add_argument("--clients", type=int, default=1200, help="step 3: closed-loop clients")
    p.add_argument("--rate", type=float, default=300.0, help="step 3: open loop, records/s")
    p.add_argument("--duration", type=float, help="step 3: measured window, s [20]")
    p.add_argument("--warmup", type=float, help="step 3: load before each window, s [5]")
    p.add_argument("--pairs", type=int, default=1, help="step 3: off/on pairs, run in turn")
    p.add_argument(
        "--on", default="tsa,chain", help="step 3: what 'on' turns on: tsa, chain or both"
    )
    p.add_argument(
        "--tolerance", type=float, default=0.05, help="step 3: the drop that still counts as none"
    )
    p.add_argument("--check", type=int, help="step 3: answers checked per run [500]")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (gevent)")
    p.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = harness.parse(p, QUICK, FULL, argv)
    args.witnesses, args.upload_size = 0, 0  # what court_api.check() reads
    run = harness.steps(args.steps)
    if 1 in harness.steps(args.steps) and args.confirmations < 2:
        p.error("step 1 reads an anchor while too shallow: --confirmations must be 2 or more")
    if not {x.strip() for x in args.on.split(",") if x.strip()} <= {"tsa", "chain"}:
        p.error("--on: tsa, chain or tsa,chain")
    started = time.perf_counter()
    summary = Table("Summary")
    with contextlib.ExitStack() as stack:
        servers = stack.enter_context(harness.Servers())  # stops everything on SIGTERM too
        services = start_services(args, stack)
        harness.prepare(args, LEDGER_BATCH_PERIOD="1", **services["settings"])
        harness.describe("Trusted time and chain anchors benchmark", args)
        from anchoring import keys, sequencer
        from documents.models import Court, CourtToken

        keys.signer()
        sequencer.integrate()  # the empty log's checkpoint
        if 1 in run:
            step_cost(args, services, summary)
        if run & {2, 3}:
            court = Court.objects.create(
                code="BENCH01", name_zh="基准测试法院", name_en="Bench Court"
            )
            _, token = CourtToken.issue(court, "bench/anchors.py")
            url = servers.gunicorn("gevent", args.workers)
            ctx = {"url": url, "token": token, "seed": args.seed, "upload_size": 0, "batch_size": 1}
            if 2 in run:
                step_delay(args, services, servers, ctx, summary)
            if 3 in run:
                services["anvil"].rpc("evm_setIntervalMining", 1)
                quiet = "not waited for" if args.quick or args.no_wait else harness.wait_for_quiet()
                note(f"machine: {quiet}")
                step_throughput(args, services, servers, ctx, summary)
    summary.print()
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
