#!/usr/bin/env python
"""The court API: records registered per second through HTTP, and their latency.

gunicorn (docker/gunicorn.conf.py: gevent workers) and `manage.py sequencer` (1 s period)
serve POST /api/v1/records on PostgreSQL; every request waits for its ledger batch and
answers 201 with its receipt, so latency includes that wait. Runs (--runs):

  json    closed loop: C clients (1200) each loop POSTing a record by its digests.
          Target: >= 500 records/s (201 answers received in the window). A closed-loop
          client gets at most one answer per batch, so C must be well above the rate.
  open    open loop: records started at --rate (500/s) whether or not earlier ones are
          answered. Targets: every request answered 201, p99 < 2.5 s from its start.
  upload  100 clients each POSTing a 20 KB file (multipart); no target.
  batch   8 clients each POSTing 100 records to /api/v1/records/batch; another
          endpoint's figure, never the single-record one. Not run by default.

With --witnesses N (0: none), N witnesses (this project's witness role, gunicorn with one
gevent worker each, on a database and key of its own) follow the log, and the log's web
and sequencer processes get a LEDGER_WITNESS_POLICY naming them with a quorum of a
majority (`group alliance 2 w1 w2 w3` for 3): a checkpoint is published, and receipts
given against it, once the quorum cosigns it. The witnesses run on the same cores.
Compare `--runs open` with 0 and with 3 at the same rate (target: p99 grows by < 300 ms).

After each run a sample of answers is checked: the checkpoint's signature (and with
witnesses, the quorum's cosignatures), the inclusion proof, the entry rebuilt from the
record row, the digests sent.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import harness
from harness import Table, note, pct

QUICK = {"duration": 10.0, "warmup": 3.0, "upload_duration": 5.0, "check": 100}
FULL = {"duration": 30.0, "warmup": 5.0, "upload_duration": 15.0, "check": 500}
TARGET_RATE, TARGET_P99 = 500, 2.5
# With --witnesses: each witness (n, name, key file, port, url, vkey, verifier), the
# quorum, and the directory of their keys, policy and log list.
alliance: dict = {"members": [], "quorum": 0, "home": None}


def _item(k: int, i: int) -> dict:
    """A record by its digests, random so that no two are alike."""
    return {
        "sha256": os.urandom(32).hex(),
        "sm3": os.urandom(32).hex(),
        "category": "evidence",
        "title": f"Bench evidence {k}-{i}",
        "case_number": f"(2026)京0105民初{k}号",
        "parties": ["张三", f"Bench Party {k} Ltd."],
    }


def upload_content(seed: int, k: int, i: int, size: int) -> bytes:
    """Client k's i-th file: reproducible, so that the answer's digests can be checked."""
    return random.Random(f"{seed} {k} {i}").randbytes(size)


async def post_record(session, ctx: dict, k: int, i: int):
    """POST one record (JSON, or a multipart upload); tag: the digests sent, or the file's key."""
    import aiohttp

    headers = {"Authorization": f"Token {ctx['token']}"}
    if ctx["mode"] == "upload":
        item = _item(k, i)
        data = aiohttp.FormData()
        for name in ("category", "title", "case_number"):
            data.add_field(name, item[name])
        for party in item["parties"]:
            data.add_field("parties", party)
        content = upload_content(ctx["seed"], k, i, ctx["upload_size"])
        data.add_field("file", content, filename="evidence.bin")
        tag = [(k, i)]
        kwargs = {"data": data}
    elif ctx["mode"] == "batch":
        items = [_item(k, i) for _ in range(ctx["batch_size"])]
        tag = [(x["sha256"], x["sm3"]) for x in items]
        kwargs = {"json": {"records": items}}
    else:
        item = _item(k, i)
        tag = [(item["sha256"], item["sm3"])]
        kwargs = {"json": item}
    path = "/api/v1/records/batch" if ctx["mode"] == "batch" else "/api/v1/records"
    async with session.post(ctx["url"] + path, headers=headers, **kwargs) as answer:
        return answer.status, await answer.read(), tag


def check(args, window: harness.Window, mode: str) -> int:
    """Verify a sample of the 201 answers; return how many records were checked."""
    import json

    from django.conf import settings

    from anchoring import keys, merkle
    from anchoring.checkpoint import open_checkpoint
    from anchoring.digest import digests
    from anchoring.models import Entry
    from documents import codes, ledger
    from documents.models import Record

    answers = []  # (record body, what was sent for it)
    for r in window.results:
        if r.status == 201:
            body = json.loads(r.body)
            answers += zip(body.get("records", [body]), r.tag, strict=True)
    sample = random.Random(args.seed).sample(answers, min(len(answers), args.check))
    stored = dict(
        Entry.objects.filter(index__in=[b["ledger"]["index"] for b, _ in sample]).values_list(
            "index", "data"
        )
    )
    rows = Record.objects.select_related("court").in_bulk(
        [codes.normalize(b["code"]) for b, _ in sample], field_name="code"
    )
    verifier = keys.verifier()
    for body, sent in sample:
        proof = body["ledger"]
        cp = open_checkpoint(proof["checkpoint"], verifier, origin=settings.LEDGER_ORIGIN)
        if args.witnesses:
            members, quorum = alliance["members"], alliance["quorum"]
            cosigners = sum(_signed_by(proof["checkpoint"], w["verifier"]) for w in members)
            assert cosigners >= quorum, f"{cosigners} cosignatures, quorum {quorum}"
        assert cp.size == proof["tree_size"], "the answer's tree size is not its checkpoint's"
        hashes = [bytes.fromhex(h) for h in proof["inclusion_proof"]]
        leaf_hash = bytes.fromhex(proof["leaf_hash"])
        merkle.verify_inclusion(leaf_hash, proof["index"], cp.size, hashes, cp.root_hash)
        data = bytes(stored[proof["index"]])
        assert merkle.leaf_hash(data) == leaf_hash, "the answer's leaf is not its entry"
        assert ledger.record_leaf(rows[codes.normalize(body["code"])]).encode() == data
        if mode == "upload":
            sent = tuple(
                d.hex() for d in digests(upload_content(args.seed, *sent, args.upload_size))
            )
        assert (body["sha256"], body["sm3"]) == tuple(sent), "the digests are not those sent"
    return len(sample)


def witnessed(args) -> str:
    """What a title says of the witnesses."""
    return f", {args.witnesses} witnesses (quorum {alliance['quorum']})" if args.witnesses else ""


def _signed_by(note: str, verifier) -> bool:
    from anchoring.note import NoteError, open_note

    try:
        open_note(note, [verifier])
    except NoteError:
        return False
    return True


def run(args, mode: str, ctx: dict, groups: dict, summary: Table) -> None:
    """One run (json, open, upload or batch): its table, and its line of the summary."""
    from documents.models import Record

    per = args.batch_size if mode == "batch" else 1
    load = {
        "json": {"clients": args.clients, "duration": args.duration},
        "open": {"rate": args.rate, "duration": args.duration},
        "upload": {"clients": args.upload_clients, "duration": args.upload_duration},
        "batch": {"clients": args.batch_clients, "duration": args.duration},
    }[mode]
    note(f"{mode}: {load}, {args.warmup:g} s warm-up")
    window = harness.load(post_record, {**ctx, "mode": mode}, groups, warmup=args.warmup, **load)
    started = window.started()
    records = len(window.answered(201)) * per
    rate = records / window.duration
    latency = [r.end - r.start for r in started if r.status == 201]
    statuses = sorted({r.status for r in started})
    counts = ", ".join(
        f"{s or 'no answer'}: {sum(r.status == s for r in started):,}" for s in statuses
    )
    all_201 = bool(latency) and len(latency) == len(started)
    p99 = pct(latency, 99)
    m = window.metrics
    endpoint = "batch" if mode == "batch" else "record"
    shape = f"{args.workers} x {args.worker_class}"
    title = {
        "json": f"1. JSON records, closed loop: {args.clients} clients",
        "open": f"1b. JSON records, open loop: {args.rate:g}/s offered",
        "upload": f"2. Multipart, {args.upload_size:,}-byte files: {args.upload_clients} clients",
        "batch": f"3. Batches of {args.batch_size} (/records/batch): {args.batch_clients} clients",
    }[mode]
    table = Table(
        f"{title} x {window.duration:g} s, gunicorn {shape}, period {args.period} s"
        + witnessed(args)
    )
    rate_target = mode == "json"
    table.add(
        "records/s (in 201 answers received in the window)",
        f"{rate:,.1f}",
        f">= {TARGET_RATE}" if rate_target else "",
        (rate >= TARGET_RATE and all_201) if rate_target else None,
    )
    table.add("requests started in the window, by answer", f"{len(started):,} ({counts})")
    for error in sorted({r.error for r in started if r.error})[:3]:
        table.add("  client error", error[:70])
    table.add("latency p50 / p90 (201s)", f"{pct(latency, 50):.3f} / {pct(latency, 90):.3f} s")
    p99_target = mode == "open"
    table.add(
        "latency p99",
        f"{p99:.3f} s",
        f"< {TARGET_P99:g} s" if p99_target else "",
        (p99 < TARGET_P99 and all_201) if p99_target else None,
    )
    table.add(
        "in the view (metrics): mean / p99 bucket",
        f"{m.mean('court_registration_duration_seconds', endpoint=endpoint):.3f} / "
        f"<= {m.quantile('court_registration_duration_seconds', 0.99, endpoint=endpoint):g} s",
    )
    table.add("batches (metrics)", harness.batches(m))
    if args.witnesses:
        delay = "ledger_publication_delay_seconds"
        table.add(
            "signed to published (metrics): mean / p99 bucket",
            f"{m.mean(delay) * 1000:.1f} ms / <= {m.quantile(delay, 0.99):g} s",
        )
        answers = {}
        for (name, labels), value in m.values.items():
            if name == "ledger_witness_answers_total" and value:
                status = dict(labels)["status"]
                answers[status] = answers.get(status, 0) + value
        table.add(
            "witnesses' answers (metrics)",
            ", ".join(f"{s}: {n:,.0f}" for s, n in sorted(answers.items())) or "none",
        )
    table.cpu(window.cpu, records, "record", window.duration)
    table.add("answers checked", f"{check(args, window, mode):,}, all valid")
    table.add("records in the database", f"{Record.objects.count():,}")
    table.print()
    if mode == "json":
        summary.add(
            "records/s, closed loop",
            f"{rate:,.1f}",
            f">= {TARGET_RATE}",
            rate >= TARGET_RATE and all_201,
        )
    elif mode == "open":
        summary.add(
            f"p99 at {args.rate:g}/s offered{witnessed(args)}",
            f"{p99:.3f} s",
            f"< {TARGET_P99:g} s",
            p99 < TARGET_P99 and all_201,
        )
    else:
        summary.add(f"{mode}: records/s, p99", f"{rate:,.1f}, {p99:.3f} s")


def witness_setup(args) -> str:
    """Before Django: each witness's key, port and URL, and the log's policy file naming
    them; the policy's path."""
    from witness.keys import write_new_key

    home = Path(tempfile.mkdtemp(prefix="bench-witnesses-"))
    atexit.register(shutil.rmtree, home, True)
    members = []
    for n in range(1, args.witnesses + 1):
        name, key, port = f"w{n}.bench.example/witness", home / f"w{n}.key", harness.free_port()
        vkey = write_new_key(key, name)
        url = f"http://127.0.0.1:{port}/witness"
        members.append({"n": n, "name": name, "key": key, "port": port, "vkey": vkey, "url": url})
    quorum = args.witnesses // 2 + 1
    alliance.update(members=members, quorum=quorum, home=home)
    policy = home / "witness-policy.txt"
    names = " ".join(f"w{w['n']}" for w in members)
    policy.write_text(
        "".join(f"witness w{w['n']} {w['vkey']} {w['url']}\n" for w in members)
        + f"group alliance {quorum} {names}\nquorum alliance\n"
    )
    return str(policy)


def start_witnesses(args, servers: harness.Servers) -> list[int]:
    """Each witness's database (the first migrated, the others copied from it), its list
    of the one log it follows, and its gunicorn; their pids."""
    import psycopg
    from django.conf import settings
    from psycopg import sql

    from anchoring import keys
    from anchoring.cosignature import parse_witness_key

    parts = urlsplit(args.database_url)
    base = parts.path.lstrip("/")
    urls = [parts._replace(path=f"/{base}_w{w['n']}").geturl() for w in alliance["members"]]
    log_list = alliance["home"] / "logs.txt"
    log_list.write_text(
        f"logs/v0\nvkey {keys.vkey()}\norigin {settings.LEDGER_ORIGIN}\nqpd 864000\n"
    )
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for w in alliance["members"]:
            name = sql.Identifier(f"{base}_w{w['n']}")
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        first = sql.Identifier(f"{base}_w1")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(first))
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=harness.ROOT,
            env={**os.environ, "DATABASE_URL": urls[0]},
            check=True,
        )
        for w in alliance["members"][1:]:
            name = sql.Identifier(f"{base}_w{w['n']}")
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(name, first))
    pids = []
    for w, url in zip(alliance["members"], urls, strict=True):
        w["verifier"] = parse_witness_key(w["vkey"])
        servers.gunicorn(
            "gevent",
            args.witness_workers,
            name=f"gunicorn-w{w['n']}",
            port=w["port"],
            DATABASE_URL=url,
            WITNESS_NAME=w["name"],
            WITNESS_SIGNING_KEY_FILE=str(w["key"]),
            WITNESS_LOG_LIST=str(log_list),
            LEDGER_WITNESS_POLICY="",  # a witness, not the log
        )
        pids.append(servers.pid(f"gunicorn-w{w['n']}"))
    note(
        f"{args.witnesses} witnesses, gunicorn {args.witness_workers} x gevent each, "
        f"quorum {alliance['quorum']}: {', '.join(w['url'] for w in alliance['members'])}"
    )
    return pids


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("court", __doc__)
    p.add_argument("--runs", default="json,open,upload", help="json, open, upload, batch")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--worker-class", default="gevent", help="gunicorn worker class")
    p.add_argument("--threads", type=int, default=400, help="threads per gthread worker")
    p.add_argument("--period", default="1", help="LEDGER_BATCH_PERIOD, seconds")
    p.add_argument("--clients", type=int, default=1200, help="closed-loop clients")
    p.add_argument("--rate", type=float, default=TARGET_RATE, help="open loop: records/s")
    p.add_argument("--duration", type=float, help="measured window, s [30]")
    p.add_argument("--warmup", type=float, help="load before each window, s [5]")
    p.add_argument("--upload-clients", type=int, default=100)
    p.add_argument("--upload-duration", type=float, help="uploads' window, s [15]")
    p.add_argument("--upload-size", type=int, default=20 * 1024, help="bytes per file")
    p.add_argument("--batch-clients", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=100, help="records per batch request")
    p.add_argument("--check", type=int, help="answers checked per run [500]")
    p.add_argument(
        "--witnesses",
        type=int,
        default=0,
        help="witness processes the log's checkpoints must be cosigned by, quorum a majority "
        "(default 0: none, every checkpoint published as signed)",
    )
    p.add_argument("--witness-workers", type=int, default=1, help="gunicorn workers a witness")
    args = harness.parse(p, QUICK, FULL, argv)
    started = time.perf_counter()
    policy = {"LEDGER_WITNESS_POLICY": witness_setup(args)} if args.witnesses else {}
    harness.prepare(args, LEDGER_BATCH_PERIOD=args.period, **policy)
    harness.describe("Court API benchmark", args)
    from anchoring import keys, sequencer
    from documents.models import Court, CourtToken

    keys.signer()  # the key exists before the other processes read it
    sequencer.integrate()  # the empty log's checkpoint
    court = Court.objects.create(code="BENCH01", name_zh="基准测试法院", name_en="Bench Court")
    _, token = CourtToken.issue(court, "bench/court_api.py")
    summary = Table("Summary against the targets")
    with harness.Servers() as servers:
        witnesses = start_witnesses(args, servers) if args.witnesses else []
        servers.sequencer()
        url = servers.gunicorn(args.worker_class, args.workers, args.threads)
        groups = {"web": [servers.pid("gunicorn")], "sequencer": [servers.pid("sequencer")]}
        if witnesses:
            groups["witnesses"] = witnesses
        ctx = {"url": url, "token": token, "seed": args.seed}
        ctx |= {"upload_size": args.upload_size, "batch_size": args.batch_size}
        for mode in args.runs.split(","):
            run(args, mode.strip(), ctx, groups, summary)
    summary.print()
    print(f"\nTotal run time {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
