"""add-checkpoint with the database: find the log, check the request (witness/protocol.py),
cosign, and move the log's state forward in one atomic step.

The check of `old` and the update are one conditional UPDATE (... WHERE size = old AND
root_hash = the root the proof was checked against), atomic on PostgreSQL and SQLite: of
concurrent requests from one state exactly one moves it, the others answer 409 with the
new size. It is committed before the cosignature is returned. Every query goes to the
identity's database, so other witnesses (other keys, other databases) share this code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from anchoring.checkpoint import Checkpoint
from anchoring.note import InvalidKeyError, parse_verifier_key
from witness import limits, protocol
from witness.identity import Identity
from witness.models import Log, origin_hash
from witness.protocol import Inconsistent, SizeConflict, SplitView, WitnessError

log = logging.getLogger(__name__)


class OverQuota(WitnessError):
    """429: the log sent more than its qpd; `retry_after` seconds until one more fits."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"over the log's requests a day; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Cosigned:
    """A successful add-checkpoint: the cosignature line(s) to answer, and the log."""

    lines: str
    log: Log


def add_checkpoint(
    identity: Identity, body: bytes, *, now: Callable[[], float] = time.time
) -> Cosigned:
    """Answer an add-checkpoint body for `identity`: its cosignature, or a WitnessError
    whose `status` is the answer's (400, 403, 404, 409, 422, 429)."""
    request = protocol.parse_request(body)
    origin = request.origin()
    followed = (
        Log.objects.using(identity.database)
        .filter(active=True, origin_hash=origin_hash(origin))
        .first()
    )
    if followed is None:
        raise protocol.UnknownLog(f"no log has the origin {origin!r}")
    try:
        log_key = parse_verifier_key(followed.vkey)
    except InvalidKeyError as exc:  # a row added past the admin's validation
        raise protocol.NotSignedByLog(f"the log's vkey is unusable: {exc}") from None
    signed = protocol.open_signed(request, log_key)
    wait = limits.admit(identity, followed)
    if wait is not None:
        raise OverQuota(wait)
    checkpoint = signed.checkpoint
    cosigned_root = bytes(followed.root_hash)
    try:
        protocol.check_update(request, checkpoint, followed.size, cosigned_root)
    except Inconsistent as exc:
        _report(identity, followed, request.old_size, checkpoint, cosigned_root, exc)
        raise
    timestamp = max(1, int(now()))
    lines = identity.cosign(signed.note.text, timestamp)
    note = protocol.cosigned_note(signed, lines)
    cosigned_at = datetime.fromtimestamp(timestamp, UTC)
    update = (
        Log.objects.using(identity.database)
        .filter(pk=followed.pk, size=request.old_size, root_hash=cosigned_root)
        .update
    )
    fields = {"size": checkpoint.size, "root_hash": checkpoint.root_hash, "note": note}
    if transaction.get_connection(identity.database).in_atomic_block:
        # durable: refuses to be a savepoint of some outer transaction (a test's is let
        # through), so that the state is committed before the cosignature leaves.
        with transaction.atomic(using=identity.database, durable=True):
            moved = update(**fields, cosigned_at=cosigned_at)
    else:
        # One statement in autocommit: atomic, and committed once it returns.
        moved = update(**fields, cosigned_at=cosigned_at)
    if not moved:
        # Another request moved the state first, from the same old size.
        current = Log.objects.using(identity.database).values_list("size", flat=True)
        raise SizeConflict(current.get(pk=followed.pk))
    followed.size, followed.root_hash = checkpoint.size, checkpoint.root_hash
    followed.note, followed.cosigned_at = note, cosigned_at
    return Cosigned(lines, followed)


def latest_note(identity: Identity, digest: str) -> str | None:
    """The checkpoint the witness last cosigned for a log, with the log's signature and its
    own cosignature; None when it never cosigned one."""
    row = (
        Log.objects.using(identity.database)
        .filter(origin_hash=digest, cosigned_at__isnull=False)
        .values_list("note", flat=True)
        .first()
    )
    return row or None


def followed_logs(identity: Identity) -> list[Log]:
    """The logs the witness follows, by origin."""
    return list(Log.objects.using(identity.database).filter(active=True).order_by("origin"))


def _report(
    identity: Identity,
    followed: Log,
    old_size: int,
    checkpoint: Checkpoint,
    cosigned_root: bytes,
    exc: Inconsistent,
) -> None:
    """Log a refused checkpoint the log's key signed: possible evidence of misbehaviour."""
    what = "split view" if isinstance(exc, SplitView) else "inconsistent checkpoint"
    log.warning(
        "witness %s refused a %s signed by log %r (possible log misbehaviour): old size %d, "
        "cosigned size %d root %s, new size %d root %s: %s",
        identity.name,
        what,
        followed.origin,
        old_size,
        followed.size,
        cosigned_root.hex(),
        checkpoint.size,
        checkpoint.root_hash.hex(),
        exc.reason,
    )
