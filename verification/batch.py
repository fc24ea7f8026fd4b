"""Batches checked from the batch page: each file one verification, all under one batch id
(the column the API's batches use), and a batch read back as a report.

What a row shows comes from its verification record, computed from the ledger, and from
a fresh check of its record against the ledger (as the result page does): a record
whose rows were changed since is never shown verified.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from anchoring.backend import BackendUnavailable, get_backend
from anchoring.checkpoint import CheckpointError, open_checkpoint
from anchoring.digest import parse_hex
from anchoring.note import NoteError, Verifier
from documents import codes
from verification import batch_report, intake, trust
from verification.batch_report import CheckedAgainst, Report, Row
from verification.models import Verification, VerificationStep
from verification.record_check import faces_of, ledger_agrees


@dataclass(frozen=True)
class Given:
    """One file of a batch as the reader gave it: uploaded, or hashed in their browser."""

    position: int
    filename: str
    size: int
    sha256: str
    sm3: str
    source: str  # Verification.Source.UPLOAD or BROWSER


class Unreadable(ValueError):
    """A digest sent by the page's script that is not one (named by its file when it can)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def from_browser(text: str) -> Given:
    """A file hashed in the browser, as the page's script sends it: JSON with `position`,
    `name`, `size`, `sha256` and `sm3` (hexadecimal)."""
    try:
        item = json.loads(text)
    except ValueError:
        raise Unreadable("") from None
    if not isinstance(item, dict):
        raise Unreadable("")
    name = item.get("name")
    name = name if isinstance(name, str) else ""
    sha, sm = parse_hex(item.get("sha256")), parse_hex(item.get("sm3"))
    position, size = item.get("position"), item.get("size")
    if (
        sha is None
        or sm is None
        or not isinstance(position, int)
        or not isinstance(size, int)
        or isinstance(size, bool)
        or size < 0
    ):
        raise Unreadable(name)
    return Given(position, name[:255], size, sha.hex(), sm.hex(), Verification.Source.BROWSER)


def in_order(uploads: list[intake.DigestedFile], hashed: list[Given]) -> list[Given]:
    """All files in the order the reader gave them: those hashed in the browser carry
    their place, uploads fill the others in the order they came."""
    taken = {g.position for g in hashed}
    free = (p for p in range(len(uploads) + len(hashed) + len(taken)) if p not in taken)
    files = [
        Given(
            next(free),
            f.name[:255],
            f.size or 0,
            f.sha256.hex(),
            f.sm3.hex(),
            Verification.Source.UPLOAD,
        )
        for f in uploads
    ]
    return sorted([*hashed, *files], key=lambda g: g.position)


def start(files: list[Given]) -> str:
    """Start one verification per file under a new batch id; checked in this request when
    the ledger is this deployment's (else queued, like the API's). Returns the batch id."""
    batch = secrets.token_urlsafe(16)
    for position, g in enumerate(files):
        intake.start(
            inline=True,
            sha256=g.sha256,
            sm3=g.sm3,
            size=g.size,
            filename=g.filename,
            source=g.source,
            batch=batch,
            batch_position=position,
        )
    return batch


def report(batch: str, absolute) -> Report | None:
    """The batch as its report (None: no such batch). `absolute` makes a path a URL."""
    found = list(
        Verification.objects.filter(batch=batch)
        .select_related("record__court")
        .order_by("batch_position", "created_at")
    )
    if not found:
        return None
    faces = faces_of(found)
    rows = []
    for position, v in enumerate(found, 1):
        done = v.status == Verification.Status.DONE
        face = faces.get(v.record_id) if done else None
        court = (face or {}).get("court") or {}
        number = codes.display(v.certificate_number) if done else None
        rows.append(
            Row(
                position=position,
                filename=v.filename,
                size=v.size,
                outcome=batch_report.shown(v.status, v.outcome_now(ledger_agrees(v, face))),
                record_code=face["code"] if face else None,
                court_code=court.get("code"),
                court_zh=court.get("name_zh"),
                court_en=court.get("name_en"),
                ledger_index=v.ledger_index,
                tree_size=v.tree_size,
                sha256=v.sha256,
                sm3=v.sm3,
                checked_at=timezone.localtime(v.finished_at).isoformat() if v.finished_at else "",
                result_url=absolute(reverse("verification-page", args=[v.id])),
                certificate_number=number,
                certificate_url=absolute(reverse("certificate-page", args=[number]))
                if number
                else None,
            )
        )
    return Report(
        batch=batch,
        url=absolute(reverse("batch-result", args=[batch])),
        made_at=timezone.localtime().strftime("%Y-%m-%d %H:%M:%S %Z"),
        rows=rows,
        checkpoints=_checked_against(batch),
    )


def _checked_against(batch: str) -> list[CheckedAgainst]:
    """The signed checkpoints the batch's verifications verified, smallest first: those
    their checkpoint steps name (rows of the database) that the ledger publishes, signed
    by the pinned log key, with the same root."""
    seen: dict[tuple, CheckedAgainst] = {}
    steps = VerificationStep.objects.filter(
        verification__batch=batch, name="checkpoint", status=VerificationStep.Status.PASSED
    ).values_list("detail", flat=True)
    for detail in steps:
        try:
            cp = CheckedAgainst(
                str(detail["origin"]),
                int(detail["tree_size"]),
                str(detail["root_hash"]),
                str(detail.get("key_id", "")),
            )
        except (KeyError, TypeError, ValueError):
            continue
        seen.setdefault((cp.origin, cp.tree_size, cp.root_hash), cp)
    pinned = trust.pinned()
    if pinned is None:  # no log key: nothing can be verified
        return []
    published = [cp for cp in seen.values() if _published(cp, pinned.log)]
    return sorted(published, key=lambda cp: cp.tree_size)


def _published(named: CheckedAgainst, log: Verifier) -> bool:
    """Whether the ledger publishes the checkpoint a step row names, signed by `log`;
    False when it cannot be asked."""
    try:
        note = get_backend().checkpoint(named.tree_size)
        if note is None:
            return False
        cp = open_checkpoint(note, log, origin=log.name)
    except (BackendUnavailable, NoteError, CheckpointError):
        return False
    return (cp.origin, cp.root_hash.hex()) == (named.origin, named.root_hash)
