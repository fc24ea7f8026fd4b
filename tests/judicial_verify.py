"""Reading what we issue as a user would: judicial-verify on a bundle (in this process, as
the console script's `main` runs it) or on a certificate (the installed command, in a
process of its own), and pdftotext on a certificate."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

INSTALLED = Path(sys.executable).with_name("judicial-verify")
TIMEOUT = 120  # seconds; the command answers in about one, this only bounds a hang


def bundle(data: dict, policy: Path, folder: Path, *options: str) -> tuple[int, str]:
    """judicial-verify bundle on `data` written to `folder`: its exit code and output."""
    from verification import offline

    path = folder / "edited.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = offline.main(["bundle", str(path), "--policy", str(policy), *options])
    return code, out.getvalue()


def certificate(pdf: Path, policy: Path, *options: str) -> subprocess.CompletedProcess:
    """The installed judicial-verify certificate, run as a process."""
    command = [str(INSTALLED), "certificate", str(pdf), "--policy", str(policy), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def saved_pdf(issued, folder: Path) -> tuple[Path, str]:
    """An issued certificate's PDF written to `folder`, and its text as pdftotext reads it
    with runs of white space made one space."""
    pdf = folder / "certificate.pdf"
    with issued.pdf.open("rb") as f:
        pdf.write_bytes(f.read())
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    return pdf, " ".join(text.split())
