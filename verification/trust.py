"""What this portal trusts: the pinned keys and quorum (its trust policy), the checkpoints
it has trusted before, and this process's recent copies of checkpoints.

A verification proves that the ledger only grew since the newest checkpoint the portal
trusted before (a TrustedCheckpoint row, believed only if the pinned log key signs it),
then trusts the newer one. Per process, for VERIFY_CHECKPOINT_CACHE_SECONDS, the newest
checkpoint read from the local ledger and the trusted checkpoint last matched are kept, so
that a burst of verifications reads neither again. Both copies only move forward.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError

from anchoring import alarms, keys, timestamps
from anchoring.backend import LedgerBackend, LocalBackend
from anchoring.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from anchoring.note import NoteError, Verifier, verifier_key
from anchoring.policy import Policy, PolicyError, format_policy, parse_policy
from verification.models import TrustedCheckpoint


@dataclass(frozen=True)
class Pinned:
    """The trust policy verification applies, and in it the key of the log it reads."""

    policy: Policy
    log: Verifier


def pinned() -> Pinned | None:
    """LEDGER_TRUST_POLICY; without it, the log key of LEDGER_VERIFIER_KEY (or, reading its
    own ledger, this deployment's) with the witnesses and quorum of LEDGER_WITNESS_POLICY
    and the TSA CAs of LEDGER_TSA_CA_FILES.
    None when no log key is known: then nothing can be verified."""
    path = settings.LEDGER_TRUST_POLICY
    if path:
        try:
            stat = Path(path).stat()
            policy = _policy_file(str(path), stat.st_mtime_ns, stat.st_size)
        except (OSError, PolicyError) as exc:
            raise ImproperlyConfigured(f"LEDGER_TRUST_POLICY {path}: {exc}") from None
        named = [v for v in policy.logs if v.name == settings.LEDGER_ORIGIN]
        return Pinned(policy, (named or policy.logs)[0])
    log = keys.pinned_verifier()
    if log is None:
        return None
    witnesses = keys.witness_policy() if settings.LEDGER_BACKEND == "local" else None
    tsa_cas = frozenset(timestamps.ca_fingerprints())
    return Pinned(_derived(verifier_key(log), witnesses, tsa_cas), log)


@functools.lru_cache(maxsize=4)
def _policy_file(path: str, mtime_ns: int, size: int) -> Policy:
    return parse_policy(Path(path).read_text(encoding="utf-8"))


_derived_last: tuple[str, Policy | None, frozenset[str], Policy] | None = None


def _derived(log_vkey: str, witnesses: Policy | None, tsa_cas: frozenset[str]) -> Policy:
    """The policy of this log key, witness policy and TSA CAs, built once while they stay
    the same (keys.witness_policy gives the same object until its file changes)."""
    global _derived_last
    last = _derived_last
    if last is not None and last[0] == log_vkey and last[1] is witnesses and last[2] == tsa_cas:
        return last[3]
    policy = parse_policy(format_policy([log_vkey], [], sorted(tsa_cas), witnesses=witnesses))
    _derived_last = (log_vkey, witnesses, tsa_cas, policy)
    return policy


@dataclass(frozen=True)
class _Copy:
    at: float  # time.monotonic() when it was kept
    checkpoint: Checkpoint
    note: str


class RecentCopy:
    """One checkpoint kept by this process for VERIFY_CHECKPOINT_CACHE_SECONDS. Writers
    replace it whole under a lock; readers take one reference, so they need none."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: _Copy | None = None

    def keep(self, cp: Checkpoint, note: str = "") -> None:
        """Keep `cp` unless a larger, still fresh one is kept (copies only move forward)."""
        if settings.VERIFY_CHECKPOINT_CACHE_SECONDS <= 0:
            return
        with self._lock:
            kept = self._kept
            if kept is None or kept.checkpoint.size <= cp.size or _stale(kept):
                self._kept = _Copy(time.monotonic(), cp, note)

    def get(self) -> _Copy | None:
        """The copy, while it is fresh."""
        kept = self._kept
        if kept is None or settings.VERIFY_CHECKPOINT_CACHE_SECONDS <= 0 or _stale(kept):
            return None
        return kept

    def forget(self) -> None:
        with self._lock:
            self._kept = None


def _stale(kept: _Copy) -> bool:
    return time.monotonic() - kept.at >= settings.VERIFY_CHECKPOINT_CACHE_SECONDS


latest_copy = RecentCopy()  # the newest checkpoint note read from the local ledger
trusted_copy = RecentCopy()  # the trusted checkpoint last matched or recorded


def forget() -> None:
    """Drop this process's copies (tests, or a database replaced under a running process)."""
    latest_copy.forget()
    trusted_copy.forget()


def latest_note(backend: LedgerBackend, index: int) -> tuple[str, bool]:
    """The newest checkpoint note, and whether it is this process's recent copy.

    A copy is used only for the local ledger and only when it covers the entry: the
    inclusion proof is always made to the checkpoint reported, never a newer one.
    """
    if isinstance(backend, LocalBackend):
        kept = latest_copy.get()
        if kept is not None and index < kept.checkpoint.size:
            return kept.note, True
    return backend.latest_checkpoint(), False


def trusted() -> Checkpoint | None:
    """The newest trusted checkpoint whose note the pinned log key signs.

    A row is the portal's own memory, and the database is not trusted: a row whose note
    does not verify is skipped with an alarm, never used to judge the ledger.
    """
    found = pinned()
    verifier = found.log if found else None
    for row in TrustedCheckpoint.objects.order_by("-tree_size")[: settings.VERIFY_TRUSTED_SCAN]:
        try:
            if verifier is None:
                raise CheckpointError("no log key is pinned")
            cp = open_checkpoint(row.note, verifier, origin=verifier.name)
        except (NoteError, CheckpointError, AttributeError) as exc:
            alarms.raise_alarm(
                alarms.Alarm.Source.VERIFICATION,
                f"a trusted checkpoint row does not verify with the log key ({exc}); skipped",
                subject=f"trusted checkpoint {row.tree_size}",
            )
            continue
        if cp.size == row.tree_size and cp.root_hash.hex() == row.root_hash:
            return cp
        alarms.raise_alarm(
            alarms.Alarm.Source.VERIFICATION,
            "a trusted checkpoint row does not hold what its note signs; skipped",
            subject=f"trusted checkpoint {row.tree_size}",
        )
    return None


def trusted_for(cp: Checkpoint) -> Checkpoint | None:
    """The newest trusted checkpoint; no read when `cp` is the one this process last
    matched or recorded (same size and root), whatever has been trusted since: `cp` was
    itself proven consistent with the trust before it, and trust only grows."""
    kept = trusted_copy.get()
    if kept is not None and (kept.checkpoint.size, kept.checkpoint.root_hash) == (
        cp.size,
        cp.root_hash,
    ):
        return kept.checkpoint
    found = trusted()
    if found is not None:
        trusted_copy.keep(found)
    return found


def trust(cp: Checkpoint, note: str) -> None:
    """Record `cp` as trusted: later checkpoints must be consistent with it."""
    # Another verification may record the same checkpoint at the same moment.
    with contextlib.suppress(IntegrityError):
        TrustedCheckpoint.objects.get_or_create(
            tree_size=cp.size, defaults={"root_hash": cp.root_hash.hex(), "note": note}
        )
    trusted_copy.keep(cp)
