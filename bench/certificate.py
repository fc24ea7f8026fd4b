#!/usr/bin/env python
"""Benchmark certificates: render-and-sign time, and offline verification time.

Setup (untimed): the benchmark's own PostgreSQL database (dropped and recreated; the name
must contain "bench"), a ledger of --anchors plain anchors plus the demo court's stamped
judgment with its four service events, integrated by the sequencer in this process; the
judgment is verified by its SHA-256 (verification.tasks.verify, as the worker runs it).

1. Render and sign, --runs times after --warmup untimed runs, in this process, for that
   one finished verification (the certificate row is not written, so every run does the
   same work): gathering the proofs through the AnchorBackend (build_bundle), rendering
   the PDF with WeasyPrint (render), and signing it with pyHanko (sign). Target: the sum,
   median < 300 ms.
2. Offline verification of the certificate PDF with the original file, in this process
   (verification.offline.main, output discarded): PDF signature, bundle proofs, the
   file's SHA-256 and SM3. Target: median < 100 ms. Also the bundle alone, and the wall
   time of `judicial-verify certificate` as a new process (Python start and imports
   included), for reference.

    python bench/certificate.py            # 50 runs each
    python bench/certificate.py --quick    # 10 runs each
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def _row(name: str, ms: list[float], target: float | None = None) -> str:
    median = statistics.median(ms)
    verdict = ""
    if target is not None:
        verdict = f"  target < {target:.0f} ms: " + ("MET" if median < target else "MISSED")
    return (
        f"  {name:<44} median {median:8.1f} ms  p95 {_percentile(ms, 95):8.1f} ms  "
        f"min {min(ms):7.1f}  max {max(ms):7.1f}{verdict}"
    )


def _database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    if "bench" not in name:
        sys.exit(f"refusing to recreate {name!r}: a benchmark database name contains 'bench'")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _setup(anchors: int):
    """The ledger, the judgment with its service timeline, and its finished verification."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from anchoring import sequencer
    from anchoring.digest import digests
    from anchoring.leaf import Kind, Leaf
    from documents import registration, service
    from demo.seeding import judgment_pdf
    from documents.models import Court, Record, ServiceEvent
    from verification.models import Verification
    from verification.tasks import verify

    for start in range(0, anchors, 5000):
        for i in range(start, min(anchors, start + 5000)):
            sha, sm = digests(i.to_bytes(8, "big"))
            sequencer.submit(Leaf(Kind.ANCHOR, 1_767_225_600_000 + i, sha, sm))
        while sequencer.integrate():
            pass
    court = Court.objects.create(
        code="BENCH1", name_zh="北京市朝阳区人民法院", name_en="Chaoyang Court"
    )
    pdf = judgment_pdf(court, "（2026）京0105民初12345号", "民事判决书", ["原告张三诉被告李四。"])
    judgment = registration.register(
        registration.NewRecord(
            court=court,
            category=Record.Category.LITIGATION_DOCUMENT,
            title="民事判决书",
            case_number="（2026）京0105民初12345号",
            parties=["张三", "李四"],
            file=io.BytesIO(pdf),
            filename="judgment.pdf",
            stamp=True,
        )
    )
    sequencer.integrate()
    registration.await_ledger(judgment)
    service.record_event(judgment, ServiceEvent.Event.ISSUED)
    sent = service.record_event(
        judgment, ServiceEvent.Event.SENT, channel="sms", addressee_name="李四"
    )
    service.record_event(judgment, ServiceEvent.Event.OPENED, addressee=sent.addressee)
    service.acknowledge(sent.addressee)
    sequencer.integrate()
    for event in judgment.events.all():
        registration.await_ledger(event)
    judgment.refresh_from_db()
    served = judgment.file.read()
    v = Verification.objects.create(
        source=Verification.Source.UPLOAD,
        sha256=digests(served)[0].hex(),
        sm3=digests(served)[1].hex(),
        size=len(served),
        filename="judgment.pdf",
    )
    verify(v.pk)
    v.refresh_from_db()
    if v.outcome != "verified":
        sys.exit(f"setup: the judgment's verification is {v.outcome!r}, not verified")
    return Verification.objects.select_related("record__court").get(pk=v.pk), served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_CERTIFICATE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/portal_bench_certificate",
        ),
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--anchors", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10 runs, 10,000 anchors")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.anchors = 10, 10_000

    _database(args.database_url)
    data = Path(os.environ.get("PORTAL_DATA_DIR", ROOT / "bench" / ".data"))
    os.environ.update(
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_DATA_DIR=str(data),
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench"),
        LEDGER_GENERATE_KEY="1",
        CERTIFICATE_DEV_CA="1",
        LEDGER_SEQUENCER="off",
        DATABASE_POOL_SIZE="0",
    )
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks in-process: nothing is queued here
    import weasyprint

    print("Certificate benchmark")
    print(
        f"  cores (nproc): {os.cpu_count()}, python {platform.python_version()}, "
        f"WeasyPrint {weasyprint.__version__}"
    )
    print("  load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    started = time.perf_counter()
    v, served = _setup(args.anchors)
    print(
        f"  setup: {args.anchors:,} anchors + the judgment and 4 service events, "
        f"tree size {v.tree_size:,}, verified in {time.perf_counter() - started:.1f} s"
    )

    from anchoring.backend import get_backend
    from verification import certificate, offline, signing

    backend = get_backend()
    development = signing.identity().development
    phases: dict[str, list[float]] = {"build_bundle": [], "render": [], "sign": [], "total": []}
    pdf = b""
    for run in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        steps = list(v.steps.all())  # issue() reads them once too
        bundle = certificate.build_bundle(v, steps, "BENCHCERTIFICATE0X", backend)
        t1 = time.perf_counter()
        unsigned = certificate.render(v, steps, bundle, "BENCHCERTIFICATE0X", development)
        t2 = time.perf_counter()
        pdf = certificate.sign(unsigned)
        t3 = time.perf_counter()
        if run >= args.warmup:
            for name, ms in (
                ("build_bundle", t1 - t0),
                ("render", t2 - t1),
                ("sign", t3 - t2),
                ("total", t3 - t0),
            ):
                phases[name].append(ms * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "certificate.pdf").write_bytes(pdf)
        (tmp / "original.pdf").write_bytes(served)
        (tmp / "bundle.json").write_bytes(certificate.bundles.dumps(bundle))
        policy = subprocess.run(
            [sys.executable, "manage.py", "trust_policy"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (tmp / "policy.txt").write_text(policy)
        cert_args = [
            "certificate",
            str(tmp / "certificate.pdf"),
            "--file",
            str(tmp / "original.pdf"),
            "--policy",
            str(tmp / "policy.txt"),
        ]
        bundle_args = [
            "bundle",
            str(tmp / "bundle.json"),
            "--file",
            str(tmp / "original.pdf"),
            "--policy",
            str(tmp / "policy.txt"),
        ]
        offline_ms: dict[str, list[float]] = {"certificate": [], "bundle": []}
        for name, argv in (("certificate", cert_args), ("bundle", bundle_args)):
            for run in range(args.warmup + args.runs):
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    t0 = time.perf_counter()
                    code = offline.main(argv)
                    elapsed = time.perf_counter() - t0
                if code != 0:
                    sys.exit(f"offline {name} did not verify (exit {code}):\n{out.getvalue()}")
                if run >= args.warmup:
                    offline_ms[name].append(elapsed * 1000)
        process_ms = []
        for _ in range(min(args.runs, 10)):
            t0 = time.perf_counter()
            done = subprocess.run(
                [str(Path(sys.executable).parent / "judicial-verify"), *cert_args],
                capture_output=True,
            )
            process_ms.append((time.perf_counter() - t0) * 1000)
            if done.returncode != 0:
                sys.exit(f"judicial-verify exited {done.returncode}: {done.stdout.decode()}")

    print(
        f"\n1. Render and sign ({args.runs} runs after {args.warmup} warm-up; "
        f"PDF {len(pdf):,} bytes)"
    )
    print(_row("gather proofs (build_bundle)", phases["build_bundle"]))
    print(_row("render (WeasyPrint, CJK subset, attachment)", phases["render"]))
    print(_row("sign (pyHanko PAdES, no TSA)", phases["sign"]))
    print(_row("render and sign, total", phases["total"], 300))
    print(f"\n2. Offline verification ({args.runs} runs after {args.warmup} warm-up, in-process)")
    print(_row("certificate PDF + original file", offline_ms["certificate"], 100))
    print(_row("bundle + original file", offline_ms["bundle"]))
    print(_row(f"judicial-verify certificate, new process ({len(process_ms)})", process_ms))
    print("\n  load average at end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
