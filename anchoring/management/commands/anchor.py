import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from anchoring import sequencer
from anchoring.digest import stream_digests
from anchoring.leaf import Kind, Leaf


class Command(BaseCommand):
    help = (
        "Anchor files' digests in the ledger as plain entries, wait until they are "
        "integrated, and print one JSON object per file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--timeout", type=float, default=None, help="seconds to wait")

    def handle(self, *args, files: list[Path], timeout: float | None, **options) -> None:
        digests = []
        for path in files:
            try:
                with path.open("rb") as f:
                    digests.append(stream_digests(f))
            except OSError as exc:
                # Nothing is submitted unless every file can be read.
                raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=2) from exc
        now_ms = int(timezone.now().timestamp() * 1000)
        leaves = [Leaf(Kind.ANCHOR, now_ms, sha, sm) for sha, sm, _size in digests]
        submissions = [sequencer.submit(entry) for entry in leaves]
        failed = False
        receipts: list[sequencer.Receipt | None]
        try:  # one wait for all: they are found by the same polls
            receipts = list(
                sequencer.wait_many(
                    submissions, timeout, expected=[entry.encode() for entry in leaves]
                )
            )
        except (sequencer.SubmissionTimeout, sequencer.SubmissionAltered):
            receipts = [None] * len(files)  # file by file below, to say which failed
        for path, (sha, sm, size), submission, entry, found in zip(
            files, digests, submissions, leaves, receipts, strict=True
        ):
            try:
                receipt = found or sequencer.wait(submission, timeout, expected=entry.encode())
            except sequencer.SubmissionTimeout as exc:
                failed = True
                self.stderr.write(f"{path}: {exc}; it stays pooled and will be integrated")
                continue
            except sequencer.SubmissionAltered as exc:
                failed = True
                self.stderr.write(f"{path}: {exc}; no receipt is printed")
                continue
            out = {
                "file": str(path),
                "size": size,
                "sha256": sha.hex(),
                "sm3": sm.hex(),
                "index": receipt.index,
                "leaf_hash": receipt.leaf_hash.hex(),
                "tree_size": receipt.tree_size,
                "inclusion_proof": [h.hex() for h in receipt.inclusion_proof],
                "checkpoint": receipt.checkpoint,
            }
            self.stdout.write(json.dumps(out, ensure_ascii=False))
        if failed:
            sys.exit(1)
