#!/usr/bin/env python
"""In-browser hashing: "Check without uploading" on the home page, in headless Chromium.

Set-up (untimed): a file of seeded random bytes in a temporary folder (--dir), written once
and grown from one size to the next (--sizes, MiB: 1 GiB then 4 GiB; --quick 256 MiB), its
SHA-256 and SM3 computed by Python as it is written (hashlib; cryptography's SM3); the
portal served by gunicorn (docker/gunicorn.conf.py) on a database of its own. The file is
deleted at the end.

  1. Hashing, for each size, --runs times: a fresh Debian Chromium (/usr/bin/chromium,
     headless, through Playwright) opens the home page, the file is chosen in its "Check a
     file" form and "Check without uploading" is clicked; the clock runs from the click to
     the page's POST of the digests to /api/v1/verifications, which is intercepted (and
     answered 503: nothing is verified). The digests sent must be Python's. MB/s = 10^6
     bytes / s, best and median of the runs. Target: >= 200 MB/s for SHA-256 and SM3
     together. Memory: the renderer process's peak resident set (VmHWM of
     /proc/<pid>/status, the Chromium child with --type=renderer that spent the most CPU;
     its workers are threads of it), what that set is made of (RssAnon, RssFile, RssShmem,
     peaks of samples every 100 ms), and the page's JS heap (CDP Performance.getMetrics
     JSHeapUsedSize, the page's main thread only). Target: renderer < 200 MB (10^6 bytes)
     whatever the size.
  2. Where the time goes, on the first size, in one page: the same File read with
     File.slice().arrayBuffer() at 1, 8 and 32 MiB and through its byte stream; as many
     bytes hashed with nothing read (an 8 MiB buffer hashed again), SHA-256 and SM3 each;
     read and hashed in the page's thread with SHA-256 alone, SM3 alone and both one after
     the other (in one thread); and the page's hashing (static/js/hashing.js: two
     workers). Each with the CPU seconds of Chromium's processes by kind.

The file is read from the page cache (the machine has the memory to keep it): the figures
are of reading a Blob and hashing, not of a disk. A full run first waits for the machine to
be quiet (load average below 1.5 for 30 s, at most --quiet-wait s).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import harness
from harness import Table, note

QUICK = {"sizes": "256", "runs": 1}
FULL = {"sizes": "1024,4096", "runs": 3}
TARGET_MB_S, TARGET_RENDERER_MB = 200, 200  # MB: 10^6 bytes
MB, MiB = 10**6, 1 << 20
CHUNK = 16 * MiB  # written and hashed by Python at a time
RESIDENT = ("RssAnon", "RssFile", "RssShmem")  # a resident set's parts, /proc/<pid>/status
TIME_LIMIT = 60  # s, plus 1 s per 10 MB: a run slower than that is a failure
SAMPLE = 0.1  # s between two reads of the page's JS heap
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update"]
API = "**/api/v1/verifications"
BUSY = json.dumps({"error": {"message": {"zh": "稍后再试。", "en": "Try later."}}})


class RandomFile:
    """A file of seeded random bytes that grows to each size in turn, with the SHA-256 and
    SM3 (hashlib; cryptography's SM3) of what it holds, computed as it is written."""

    def __init__(self, path: Path, seed: int) -> None:
        from cryptography.hazmat.primitives import hashes

        self.path, self.size = path, 0
        self.random = random.Random(seed)
        self.sha256, self.sm3 = hashlib.sha256(), hashes.Hash(hashes.SM3())
        path.write_bytes(b"")

    def grow(self, size: int) -> dict[str, str]:
        """Append random bytes up to `size`; the digests of the whole file."""
        with self.path.open("ab") as f:
            while self.size < size:
                block = self.random.randbytes(min(CHUNK, size - self.size))
                f.write(block)
                self.sha256.update(block)
                self.sm3.update(block)
                self.size += len(block)
        return {"sha256": self.sha256.hexdigest(), "sm3": self.sm3.copy().finalize().hex()}


# --- Chromium's processes ---------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    found, stack = [], harness.children(pid)
    while stack:
        found.append(stack.pop())
        stack += harness.children(found[-1])
    return found


def _kind(pid: int) -> str | None:
    """ "renderer", "browser", "gpu-process", "utility", ... for a Chromium process."""
    try:
        # zygote children set their title: one string, spaces between the arguments
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return None
    if not argv or not argv[0].endswith(b"chromium"):
        return None
    kind = next((a[7:].decode() for a in argv if a.startswith(b"--type=")), "browser")
    return kind


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _own_cpu(pid: int) -> float:
    """User + system CPU seconds of the process itself (not its children)."""
    fields = harness._stat(pid)
    return sum(int(x) for x in fields[11:13]) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def chromium_cpu() -> dict[int, tuple[str, float]]:
    """Each Chromium process started from this one: its kind and CPU seconds so far."""
    found = {}
    for pid in _descendants(os.getpid()):
        kind = _kind(pid)
        if kind:
            found[pid] = (kind, _own_cpu(pid))
    return found


def cpu_by_kind(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per kind of process between two chromium_cpu() readings."""
    spent: dict[str, float] = {}
    for pid, (kind, cpu) in after.items():
        spent[kind] = spent.get(kind, 0.0) + cpu - before.get(pid, (kind, 0.0))[1]
    return spent


def page_renderer(before: dict, after: dict) -> int:
    """The renderer that did the page's work: the one that spent the most CPU meanwhile."""
    renderers = [pid for pid, (kind, _) in after.items() if kind == "renderer"]
    return max(renderers, key=lambda pid: after[pid][1] - before.get(pid, ("", 0.0))[1])


# --- The page ---------------------------------------------------------------------------


def hash_through_the_page(pw, url: str, path: Path) -> dict:
    """One run of step 1 in a fresh Chromium: the seconds from the click to the digests'
    POST, the digests sent, the renderer's VmHWM before and after, the page's peak JS heap."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        page = browser.new_page()
        sent: list[tuple[float, dict]] = []

        def intercept(route) -> None:
            sent.append((time.perf_counter(), json.loads(route.request.post_data)))
            route.fulfill(status=503, content_type="application/json", body=BUSY)

        page.route(API, intercept)
        page.goto(url + "/")
        form = page.locator("#check-file")
        form.locator("input[type=file]").set_input_files(path)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        heap: list[tuple[float, float]] = []
        resident: dict[int, dict[str, int]] = {}
        cpu_before = chromium_cpu()
        renderers = {
            pid: _status_kib(pid, "VmHWM")
            for pid, (kind, _) in cpu_before.items()
            if kind == "renderer"
        }
        started = time.perf_counter()
        button = form.locator("[data-browser-digest]")
        button.click()
        deadline = started + TIME_LIMIT + path.stat().st_size / (10 * MB)
        while not sent:
            if time.perf_counter() > deadline:
                status = form.locator("[data-digest-status]").inner_text()
                raise RuntimeError(f"no digests sent in time; the page says: {status}")
            if button.is_enabled():  # the page gave up (verify.js enables it again)
                status = form.locator("[data-digest-status]").inner_text()
                raise RuntimeError(f"the page did not send digests; it says: {status}")
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            heap.append((metrics["JSHeapUsedSize"], metrics["JSHeapTotalSize"]))
            for pid in renderers:  # what its resident set is made of, peaks of the samples
                peaks = resident.setdefault(pid, dict.fromkeys(RESIDENT, 0))
                for field in RESIDENT:
                    peaks[field] = max(peaks[field], _status_kib(pid, field))
            page.wait_for_timeout(SAMPLE * 1000)
        cpu_after = chromium_cpu()
        renderer = page_renderer(cpu_before, cpu_after)
        return {
            "seconds": sent[0][0] - started,
            "digests": sent[0][1],
            "hwm_before": renderers.get(renderer, 0) / 1024,
            "hwm": _status_kib(renderer, "VmHWM") / 1024,
            "resident": {f: kib / 1024 for f, kib in resident.get(renderer, {}).items()},
            "heap_used": max(used for used, _ in heap) / MiB,
            "heap_total": max(total for _, total in heap) / MiB,
            "cpu": cpu_by_kind(cpu_before, cpu_after),
        }
    finally:
        browser.close()


# Step 2: the same File read and hashed in the page in several ways; each returns its ms.
PROFILE_JS = """async ([way, slice]) => {
  const STALL = 5000;
  const file = document.querySelector("#check-file input[type=file]").files[0];
  const started = performance.now();
  if (way === "page") {
    await window.fileDigests(file, () => {});
    return performance.now() - started;
  }
  if (way === "stream") {  // -1: a read gave nothing for STALL ms (Chromium's can stall)
    const reader = file.stream().getReader({mode: "byob"});
    let buffer = new ArrayBuffer(slice);
    for (;;) {
      let timer;
      const read = await Promise.race([reader.read(new Uint8Array(buffer)),
        new Promise((resolve) => { timer = setTimeout(resolve, STALL, null); })]);
      clearTimeout(timer);
      if (!read) return -1;
      if (read.done) break;
      buffer = read.value.buffer;
    }
    return performance.now() - started;
  }
  if (way === "sha256-memory" || way === "sm3-memory") {  // no reading: the hash alone
    const hash = await hashwasm[way === "sm3-memory" ? "createSM3" : "createSHA256"]();
    const bytes = new Uint8Array(slice);
    for (let i = 0; i < slice; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    hash.init();
    const hashing = performance.now();
    for (let offset = 0; offset < file.size; offset += slice) hash.update(bytes);
    hash.digest("hex");
    return performance.now() - hashing;
  }
  const hashes = [];
  if (way === "sha256" || way === "both") hashes.push(await hashwasm.createSHA256());
  if (way === "sm3" || way === "both") hashes.push(await hashwasm.createSM3());
  hashes.forEach((h) => h.init());
  for (let offset = 0; offset < file.size; offset += slice) {
    const bytes = new Uint8Array(await file.slice(offset, offset + slice).arrayBuffer());
    hashes.forEach((h) => h.update(bytes));
  }
  hashes.forEach((h) => h.digest("hex"));
  return performance.now() - started;
}"""
PROFILE = [
    ("read: File.slice().arrayBuffer()", "read", 1),
    ("read: File.slice().arrayBuffer()", "read", 8),
    ("read: File.slice().arrayBuffer()", "read", 32),
    ("read: byte stream into one buffer", "stream", 4),
    ("SHA-256 alone, page thread, a buffer in memory hashed again", "sha256-memory", 8),
    ("SM3 alone, page thread, a buffer in memory hashed again", "sm3-memory", 8),
    ("read + SHA-256, page thread", "sha256", 8),
    ("read + SM3, page thread", "sm3", 8),
    ("read + both, page thread (one after the other)", "both", 8),
    ("read + both, page thread (one after the other)", "both", 32),
    ("the page's hashing: both, two workers (hashing.js)", "page", 2),
]


def profile(pw, url: str, path: Path, size: int) -> Table:
    """Step 2: each way of PROFILE in one page, with the CPU of Chromium's processes."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    table = Table(f"2. Where the time goes: {size / MiB:,.0f} MiB, one page, one run each")
    try:
        page = browser.new_page()
        page.goto(url + "/")
        page.locator("#check-file input[type=file]").set_input_files(path)
        script = page.locator("script[data-sha256]")
        for name in ("sha256", "sm3"):  # hash-wasm in the page too, for the one-thread ways
            page.add_script_tag(url=script.get_attribute(f"data-{name}"))
        for label, way, slice_mib in PROFILE:
            before = chromium_cpu()
            ms = page.evaluate(PROFILE_JS, [way, slice_mib * MiB])
            cpu = cpu_by_kind(before, chromium_cpu())
            cells = ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu.items()) if v >= 0.01)
            table.add(
                f"{label}, {slice_mib} MiB slices",
                f"{size / MB / (ms / 1000):,.1f} MB/s ({ms / 1000:.2f} s; CPU s: {cells})"
                if ms > 0
                else "stalled: a read of the byte stream gave nothing for 5 s",
            )
    finally:
        browser.close()
    return table


def main(argv: list[str] | None = None) -> int:
    p = harness.parser("browser_hashing", __doc__)
    p.add_argument("--steps", default="1,2", help="which measures, comma-separated")
    p.add_argument("--sizes", help="file sizes in MiB, comma-separated [1024,4096]")
    p.add_argument("--runs", type=int, help="runs of step 1 per size, the best reported [3]")
    p.add_argument(
        "--dir", default=tempfile.gettempdir(), help="where the file is written, then deleted"
    )
    p.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    p.add_argument(
        "--quiet-wait", type=float, default=900.0, help="the longest wait for quiet, s [900]"
    )
    args = harness.parse(p, QUICK, FULL, argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM} (Debian's chromium package)")
    sizes = [int(s) * MiB for s in args.sizes.split(",")]
    free = shutil.disk_usage(args.dir).free
    if free < max(sizes) + 2 * 1024 * MiB:
        raise SystemExit(f"{args.dir} has {free / MiB:,.0f} MiB free: too little for the file")
    steps = harness.steps(args.steps)
    harness.prepare(args)
    harness.describe("In-browser hashing benchmark", args)
    summary = Table("Summary against the targets")
    with (
        tempfile.TemporaryDirectory(prefix="bench-browser-hashing-", dir=args.dir) as tmp,
        harness.Servers() as servers,
        sync_playwright() as pw,
    ):
        url = servers.gunicorn()
        file = RandomFile(Path(tmp) / "evidence.bin", args.seed)
        for n, size in enumerate(sizes):
            started = time.perf_counter()
            expected = file.grow(size)
            note(
                f"{size / MiB:,.0f} MiB of random bytes written and hashed by Python in "
                f"{time.perf_counter() - started:.1f} s"
            )
            quiet = (
                "not waited for"
                if args.quick or args.no_wait
                else harness.wait_for_quiet(max_wait=args.quiet_wait)
            )
            note(f"machine: {quiet}")
            if 1 in steps:
                runs = []
                for _ in range(args.runs):
                    runs.append(hash_through_the_page(pw, url, file.path))
                    if runs[-1]["digests"] != {**expected, "source": "browser"}:
                        raise SystemExit(
                            f"wrong digests sent: {runs[-1]['digests']}, Python's: {expected}"
                        )
                table = Table(
                    f"1. Check without uploading, {size / MiB:,.0f} MiB "
                    f"({args.runs} runs, a fresh Chromium each; digests checked)"
                )
                for i, run in enumerate(runs, 1):
                    cpu = ", ".join(
                        f"{k} {v:.1f}" for k, v in sorted(run["cpu"].items()) if v >= 0.05
                    )
                    table.add(
                        f"run {i}: click to digests sent",
                        f"{run['seconds']:.2f} s, {size / MB / run['seconds']:,.1f} MB/s",
                    )
                    table.add(
                        f"run {i}: renderer VmHWM (before the click -> peak)",
                        f"{run['hwm_before']:,.1f} -> {run['hwm']:,.1f} MiB",
                    )
                    table.add(
                        f"run {i}: renderer's RssAnon / RssFile / RssShmem, sampled peaks",
                        " / ".join(f"{v:,.1f}" for v in run["resident"].values()) + " MiB",
                    )
                    table.add(
                        f"run {i}: page's JS heap, peak used / total (main thread)",
                        f"{run['heap_used']:,.1f} / {run['heap_total']:,.1f} MiB",
                    )
                    table.add(f"run {i}: CPU seconds by process", cpu)
                table.print()
                rates = [size / MB / run["seconds"] for run in runs]
                best, peak = max(rates), max(run["hwm"] for run in runs)
                summary.add(
                    f"{size / MiB:,.0f} MiB: MB/s, SHA-256 and SM3, best of {len(runs)}",
                    f"{best:,.1f} (median {statistics.median(rates):,.1f})",
                    f">= {TARGET_MB_S}",
                    best >= TARGET_MB_S,
                )
                summary.add(
                    f"{size / MiB:,.0f} MiB: renderer peak RSS (VmHWM), highest run",
                    f"{peak:,.1f} MiB ({peak * MiB / MB:,.1f} MB)",
                    f"< {TARGET_RENDERER_MB} MB",
                    peak * MiB < TARGET_RENDERER_MB * MB,
                )
                summary.add(
                    f"{size / MiB:,.0f} MiB: page's JS heap peak (main thread)",
                    f"{max(run['heap_used'] for run in runs):,.1f} MiB",
                )
            if 2 in steps and n == 0:
                profile(pw, url, file.path, size).print()
    summary.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
