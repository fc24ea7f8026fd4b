#!/usr/bin/env python
"""Certificates: render-and-sign time, and offline verification time.

Set-up (untimed): a ledger of --anchors plain anchors, then the demo's stamped judgment
with four service events, integrated, and verified by its SHA-256 as the worker does.

  1. Render and sign, --runs times after 3 untimed runs, in this process, for that one
     finished verification: gathering the proofs (build_bundle), the PDF (render,
     WeasyPrint) and the signature (sign, pyHanko). Target: median of the sum < 300 ms.
  2. Offline verification of that certificate with the original file, in this process
     (verification.offline.main): the PDF signature, the bundle's proofs, the file's
     digests. Target: median < 100 ms. Also the bundle alone, and `judicial-verify` as a
     new process (Python's start and imports included), for reference.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
from harness import Table, pct

QUICK = {"runs": 10, "anchors": 10_000}
FULL = {"runs": 50, "anchors": 100_000}
WARMUP = 3


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
        f"{name}: median (p95)",
        f"{median:.1f} ({pct(ms, 95):.1f}) ms",
        f"< {target:g} ms" if target else "",
        median < target if target else None,
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("certificate", __doc__)
    p.add_argument("--runs", type=int, help="timed runs of each [50]")
    p.add_argument("--anchors", type=int, help="anchors in the ledger [100000]")
    args = harness.parse(p, QUICK, FULL, argv)
    harness.prepare(args, DATABASE_POOL_SIZE="0")  # one process: tasks run in it
    harness.describe("Certificate benchmark", args)
    v, served = finished_verification(args.anchors)
    from anchoring.backend import get_backend
    from verification import bundle, certificate, offline, signing

    backend, development = get_backend(), signing.identity().development
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
    row(table, "render (WeasyPrint)", phases["render"])
    row(table, "sign (pyHanko PAdES, no TSA)", phases["sign"])
    row(table, "render and sign, total", phases["total"], 300)
    table.print()

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
        table = Table(f"2. Offline verification: {args.runs} runs after {WARMUP}, in this process")
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
    print(f"\n  load average at end: {harness.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
