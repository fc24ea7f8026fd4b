#!/usr/bin/env python
"""Certificates: render-and-sign time, downloads through gunicorn, verifications while
certificates are downloaded, and offline verification time.

Set-up (untimed): a ledger of --anchors plain anchors, then the demo's stamped judgment
with four service events, integrated, and verified by its SHA-256 as the worker does;
then --certificates copies of that finished verification (rows and steps), each with a
certificate number of its own and no certificate yet.

  1. Render and sign, --runs times after 3 untimed runs, in this process, for that one
     finished verification: gathering the proofs (build_bundle), the PDF (render,
     ReportLab) and the signature (sign, pyHanko). Target: median of the sum < 100 ms.
  2. Downloads, gunicorn (docker/gunicorn.conf.py: 2 gevent workers): GET
     /c/<number>/certificate.pdf, each request a certificate never rendered (the first
     download renders, signs and keeps it), open loop at each of --rates. Sustained: the
     highest rate with p99 < 1 s from each scheduled start and no failure. Target: 20/s.
     Then cached downloads: a closed loop of --clients over certificates already kept.
  3. Verifications by digest (POST /api/v1/verifications, answered done in the request),
     a closed loop of --clients, alone and then while --mixed-rate downloads/s of new
     certificates run beside them (paced by 32 more clients).
  4. Offline verification of that certificate with the original file, in this process
     (verification.offline.main): the PDF signature, the bundle's proofs, the file's
     digests. Target: median < 100 ms. Also the bundle alone, and `judicial-verify` as a
     new process (Python's start and imports included), for reference.

A full run first waits for the machine to be quiet (load average below 1.5 for 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import Table, note, pct

QUICK = {"runs": 10, "anchors": 10_000, "certificates": 800, "rates": "10,20"}
QUICK |= {"warmup": 2.0, "duration": 5.0, "clients": 8}
FULL = {"runs": 50, "anchors": 100_000, "certificates": 6000, "rates": "10,20,30"}
FULL |= {"warmup": 5.0, "duration": 20.0, "clients": 16}
WARMUP = 3
TARGET_RENDER, TARGET_RATE, TARGET_P99 = 100, 20, 1.0
PACERS = 32  # clients that pace the downloads of step 3 (each waits for its own)


def finished_verification(anchors: int):
    """The served judgment's finished verification, and the served file."""
    from anchoring import sequencer
    from anchoring.digest import digests
    from anchoring.leaf import Kind, Leaf
    from demo.builders import judgment_pdf, record_file, serve, verify_upload
    from documents.models import Court, Record
    from verification.models import Verification

    for start in range(0, anchors, 5000):
        leaves = [
            Leaf(Kind.ANCHOR, 1_767_225_600_000 + i, *digests(i.to_bytes(8, "big")))
            for i in range(start, min(anchors, start + 5000))
        ]
        sequencer.submit_many(leaves)
        while sequencer.integrate():
            pass
    court = Court.objects.create(
        code="BENCH1", name_zh="北京市朝阳区人民法院", name_en="Chaoyang Court"
    )
    case = "（2026）京0105民初12345号"
    judgment = record_file(
        court,
        Record.Category.LITIGATION_DOCUMENT,
        "民事判决书",
        judgment_pdf(court, case, "民事判决书", ["原告张三诉被告李四。"]),
        "judgment.pdf",
        case_number=case,
        parties=["张三", "李四"],
        stamp=True,
        integrate=sequencer.integrate,
    )
    serve(judgment, "李四", integrate=sequencer.integrate)
    judgment.refresh_from_db()
    served = judgment.file.read()
    v = verify_upload(served, "judgment.pdf")
    v = Verification.objects.select_related("record__court").get(pk=v.pk)
    if v.outcome != "verified":
        raise SystemExit(f"set-up: the judgment's verification is {v.outcome!r}, not verified")
    return v, served


def row(table: Table, name: str, ms: list[float], target: float | None = None) -> None:
    median = statistics.median(ms)
    table.add(
        f"{name}: median (p95, p99)",
        f"{median:.1f} ({pct(ms, 95):.1f}, {pct(ms, 99):.1f}) ms",
        f"< {target:g} ms" if target else "",
        median < target if target else None,
    )


def copies(v, count: int) -> list[str]:
    """`count` finished verifications like v, with no certificate: their numbers."""
    from documents import codes
    from verification.models import Verification, VerificationStep

    names = ("source", "status", "outcome", "sha256", "sm3", "size", "filename", "code")
    names += ("record", "ledger_index", "tree_size", "started_at", "finished_at", "attempts")
    made = [Verification(**{n: getattr(v, n) for n in names}) for _ in range(count)]
    Verification.objects.bulk_create(made, batch_size=1000)
    steps = list(v.steps.all())
    fields = ("position", "name", "status", "explanation_zh", "explanation_en", "detail")
    VerificationStep.objects.bulk_create(
        [
            VerificationStep(verification=c, **{f: getattr(s, f) for f in fields})
            for c in made
            for s in steps
        ],
        batch_size=5000,
    )
    return [codes.display(c.certificate_number) for c in made]


async def _get_pdf(session, ctx: dict, number: str) -> int:
    async with session.get(f"{ctx['url']}/c/{number}/certificate.pdf") as answer:
        body = await answer.read()
    if answer.status != 200 or not body.startswith(b"%PDF-"):
        raise RuntimeError(f"answered {answer.status}: {body[:80]!r}")
    return answer.status


async def download(session, ctx: dict, k: int, i: int):
    """Open loop: request k downloads certificate number k of ctx["numbers"]."""
    return await _get_pdf(session, ctx, ctx["numbers"][k]), b"", ctx["numbers"][k]


async def cached(session, ctx: dict, k: int, i: int):
    """Closed loop over certificates already kept."""
    numbers = ctx["numbers"]
    return await _get_pdf(session, ctx, numbers[(k * 7919 + i) % len(numbers)]), b"", None


_began: list[float] = []


async def mixed(session, ctx: dict, k: int, i: int):
    """Clients below PACERS download new certificates at ctx["rate"] in all (each at its
    own slot, latency from the slot); the others verify recorded digests."""
    _began or _began.append(time.monotonic())
    if k < ctx["pacers"]:
        n = i * ctx["pacers"] + k
        due = _began[0] + n / ctx["rate"]
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await _get_pdf(session, ctx, ctx["numbers"][n])
        return 200, b"", ("download", time.monotonic() - due)
    sha = ctx["digests"][(k * 7919 + i) % len(ctx["digests"])]
    async with session.post(ctx["url"] + "/api/v1/verifications", json={"sha256": sha}) as a:
        status, body = a.status, await a.read()
    if status != 202 or b'"outcome":"verified"' not in body.replace(b" ", b""):
        raise RuntimeError(f"answered {status}: {body[:80]!r}")
    return status, b"", ("verify", None)


def through_gunicorn(args, v, summary: Table) -> None:
    """Steps 2 and 3, through gunicorn."""
    from anchoring.digest import digests

    rates = [float(r) for r in args.rates.split(",")]
    per_rate = int(max(rates) * (args.warmup + args.duration + 5))
    per_mixed = int(args.mixed_rate * (args.warmup + args.duration + 5))
    need = per_rate * len(rates) + per_mixed
    numbers = iter(copies(v, max(args.certificates, need)))
    note(f"{max(args.certificates, need):,} finished verifications without certificates")
    ctx_digests = [digests(i.to_bytes(8, "big"))[0].hex() for i in range(0, args.anchors, 97)]
    with harness.Servers() as servers:
        url = servers.gunicorn("gevent", 2)
        groups = {"gunicorn": [servers.pid("gunicorn")]}
        quiet = "not waited for" if args.quick or args.no_wait else harness.wait_for_quiet()
        note(f"machine: {quiet}")
        table = Table("2. Certificate downloads, each rendered on request, gunicorn 2 x gevent")
        sustained, kept = 0.0, []
        for rate in rates:
            batch = list(itertools.islice(numbers, per_rate))
            w = harness.load(
                download,
                {"url": url, "numbers": batch},
                groups,
                rate=rate,
                warmup=args.warmup,
                duration=args.duration,
            )
            started = w.started()
            failed = [r for r in started if r.error]
            latency = [r.end - r.start for r in started if not r.error]
            p99 = pct(latency + [float("inf")] * len(failed), 99)
            done = len(w.answered(200)) / w.duration
            table.add(
                f"{rate:g}/s offered: done/s, p50 / p99, failed",
                f"{done:.1f}, {pct(latency, 50) * 1000:.0f} / {p99 * 1000:.0f} ms, {len(failed)}",
            )
            m = w.metrics
            phases = ", ".join(
                f"{ph} {m.mean('certificate_duration_seconds', phase=ph) * 1000:.1f}"
                for ph in ("bundle", "render", "sign")
            )
            table.add("  in the server (metrics), mean ms", phases)
            for error in sorted({r.error for r in failed})[:2]:
                table.add("  failure", error[:70])
            table.cpu(w.cpu, len(w.answered(200)), "download", w.duration)
            if p99 < TARGET_P99 and not failed:
                sustained = max(sustained, rate)
            kept += [r.tag for r in w.results if not r.error]
        table.add(
            "sustained at p99 < 1 s",
            f"{sustained:g}/s",
            f">= {TARGET_RATE}/s",
            sustained >= TARGET_RATE,
        )
        w = harness.load(
            cached,
            {"url": url, "numbers": kept},
            groups,
            clients=args.clients,
            warmup=1.0,
            duration=min(args.duration, 10.0),
        )
        latency = [r.end - r.start for r in w.started() if not r.error]
        table.add(
            f"cached downloads, {args.clients} clients: /s, p99",
            f"{len(w.answered(200)) / w.duration:,.1f}, {pct(latency, 99) * 1000:.0f} ms",
        )
        table.print()
        summary.add(
            "downloads/s at p99 < 1 s",
            f"{sustained:g}",
            f">= {TARGET_RATE}/s",
            sustained >= TARGET_RATE,
        )

        table = Table(f"3. Verifications by digest, {args.clients} clients, gunicorn 2 x gevent")
        ctx = {"url": url, "digests": ctx_digests, "rate": args.mixed_rate}
        for pacers in (0, PACERS):
            ctx |= {"pacers": pacers, "numbers": list(itertools.islice(numbers, per_mixed))}
            w = harness.load(
                mixed,
                ctx,
                groups,
                clients=args.clients + pacers,
                warmup=args.warmup,
                duration=args.duration,
            )
            ended = [r for r in w.results if not r.error and w.start <= r.end < w.end]
            verified = [r for r in ended if r.tag[0] == "verify"]
            lates = [r.tag[1] for r in w.results if r.tag and r.tag[0] == "download"]
            failed = [r for r in w.started() if r.error]
            for error in sorted({r.error for r in failed})[:2]:
                table.add("  failure", error[:70])
            label = f"with {args.mixed_rate:g} downloads/s" if pacers else "alone"
            table.add(
                f"verifications/s {label}; failed",
                f"{len(verified) / w.duration:,.1f}; {len(failed)}",
            )
            if pacers:
                downloads = len(ended) - len(verified)
                table.add(
                    "  downloads/s, their p99 from each slot",
                    f"{downloads / w.duration:.1f}, {pct(lates, 99) * 1000:.0f} ms",
                )
                summary.add(
                    f"verifications/s with {args.mixed_rate:g} downloads/s",
                    f"{len(verified) / w.duration:,.1f}",
                )
            if pacers:
                busy = w.cpu["machine"] / (w.duration * (os.cpu_count() or 1))
                table.add("  machine busy", f"{busy:.1%}")
            else:
                table.cpu(w.cpu, len(verified), "verification", w.duration)
        table.print()


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("certificate", __doc__)
    p.add_argument("--runs", type=int, help="timed runs of each [50]")
    p.add_argument("--anchors", type=int, help="anchors in the ledger [100000]")
    p.add_argument("--certificates", type=int, help="verifications to download [6000]")
    p.add_argument("--rates", help="downloads/s offered, one window each [10,20,30]")
    p.add_argument("--mixed-rate", type=float, default=20.0, help="downloads/s of step 3")
    p.add_argument("--clients", type=int, help="closed-loop clients [16]")
    p.add_argument("--warmup", type=float, help="load before each window, s [5]")
    p.add_argument("--duration", type=float, help="measured window, s [20]")
    p.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = harness.parse(p, QUICK, FULL, argv)
    unlimited = "100000000/s"  # the rate limits run, never refuse
    limits = {"VERIFY_RATE": unlimited, "PAGE_RATE": unlimited, "DOWNLOAD_RATE": unlimited}
    harness.prepare(args, **limits)
    harness.describe("Certificate benchmark", args)
    v, served = finished_verification(args.anchors)
    from anchoring.backend import get_backend
    from verification import bundle, certificate, offline, signing

    backend, development = get_backend(), signing.identity().development
    summary = Table("Summary against the targets")
    note(f"machine: {'not waited for' if args.quick or args.no_wait else harness.wait_for_quiet()}")
    phases: dict[str, list[float]] = {"bundle": [], "render": [], "sign": [], "total": []}
    for run in range(WARMUP + args.runs):
        t0 = time.perf_counter()
        steps = list(v.steps.all())
        proofs = certificate.build_bundle(v, steps, "BENCHCERTIFICATE0X", backend)
        t1 = time.perf_counter()
        unsigned = certificate.render(v, steps, proofs, "BENCHCERTIFICATE0X", development)
        t2 = time.perf_counter()
        pdf = certificate.sign(unsigned)
        t3 = time.perf_counter()
        if run >= WARMUP:
            for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                phases[name].append(seconds * 1000)
    table = Table(f"1. Render and sign: {args.runs} runs after {WARMUP}; PDF {len(pdf):,} bytes")
    row(table, "gather proofs (build_bundle)", phases["bundle"])
    row(table, "render (ReportLab)", phases["render"])
    row(table, "sign (pyHanko PAdES, no TSA)", phases["sign"])
    row(table, "render and sign, total", phases["total"], TARGET_RENDER)
    table.print()
    median = statistics.median(phases["total"])
    summary.add(
        "render and sign, median (p99)",
        f"{median:.1f} ({pct(phases['total'], 99):.1f}) ms",
        f"< {TARGET_RENDER} ms",
        median < TARGET_RENDER,
    )
    through_gunicorn(args, v, summary)

    with tempfile.TemporaryDirectory() as tmp:
        files = {
            name: Path(tmp, name)
            for name in ("certificate.pdf", "original.pdf", "bundle.json", "policy.txt")
        }
        files["certificate.pdf"].write_bytes(pdf)
        files["original.pdf"].write_bytes(served)
        files["bundle.json"].write_bytes(bundle.dumps(proofs))
        policy = subprocess.run(
            [sys.executable, "manage.py", "trust_policy"],
            cwd=harness.ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        files["policy.txt"].write_text(policy.stdout)
        checks = ["--file", str(files["original.pdf"]), "--policy", str(files["policy.txt"])]
        table = Table(f"4. Offline verification: {args.runs} runs after {WARMUP}, in this process")
        for kind, target in (("certificate", 100), ("bundle", None)):
            argv = [
                kind,
                str(files[f"{kind}.pdf" if kind == "certificate" else "bundle.json"]),
                *checks,
            ]
            times = []
            for _ in range(WARMUP + args.runs):
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    t0 = time.perf_counter()
                    code = offline.main(argv)
                    times.append((time.perf_counter() - t0) * 1000)
                if code != 0:
                    raise SystemExit(
                        f"offline {kind} did not verify (exit {code}):\n{out.getvalue()}"
                    )
            row(table, f"{kind} + original file", times[WARMUP:], target)
        verifier = Path(sys.executable).parent / "judicial-verify"
        times = []
        for _ in range(min(args.runs, 10)):
            t0 = time.perf_counter()
            subprocess.run(
                [verifier, "certificate", str(files["certificate.pdf"]), *checks],
                check=True,
                capture_output=True,
            )
            times.append((time.perf_counter() - t0) * 1000)
        row(table, f"judicial-verify certificate, new process ({len(times)})", times)
        table.print()
    summary.print()
    print(f"\n  load average at end: {harness.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
