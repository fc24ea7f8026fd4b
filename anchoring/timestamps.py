"""Trusted time for checkpoints: RFC 3161 timestamps from the TSAs of LEDGER_TSA_URLS.

The timestamper asks each TSA for a token over SHA-256 of the newest published
checkpoint's body (origin, size and root lines), with a nonce, at most once per
LEDGER_TIMESTAMP_PERIOD per TSA. Each answer is verified before it is stored (signature,
chain to a CA of LEDGER_TSA_CA_FILES, the timeStamping EKU, the imprint, the nonce); a
CheckpointTimestamp row keeps the token and the CA it chained to. A TSA that fails is
asked again after LEDGER_TSA_RETRY seconds, doubling up to LEDGER_TSA_RETRY_MAX; its
state (TimestampAuthority) shows on /health and /alliance. Nothing here blocks
integration or publication: it only reads published checkpoints.

It runs like the publisher: a thread beside the sequencer (embedded default,
`manage.py sequencer`) or the Celery task anchoring.tasks.timestamp on beat.
"""

from __future__ import annotations

import functools
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from anchoring import locks, store
from anchoring import timestamp_token as tokens
from anchoring.models import CheckpointTimestamp, PublishedCheckpoint, TimestampAuthority
from anchoring.note import parse_note

log = logging.getLogger(__name__)

_ADVISORY_LOCK_ID = 0x4A564C_54534131  # names the lock that lets one timestamper run at once
_MAX_ANSWER = 64 * 1024  # bytes read of a TSA's answer

# TSAs served by this very process, by URL: a function from a TimeStampReq to a
# TimeStampResp (DER). Only the embedded default's DEVELOPMENT TSA registers here
# (demo/dev_tsa.py), so that it answers before any server listens.
LocalTsa = Callable[[bytes], bytes]
local_tsas: dict[str, LocalTsa] = {}


class TsaFailed(Exception):
    """A TSA did not give a token that verifies; the message says why."""


def body(note: str) -> bytes:
    """What is timestamped: the checkpoint's body, the note text without signature lines."""
    return parse_note(note).text.encode()


@functools.lru_cache(maxsize=8)
def _read_cas(files: tuple[tuple[str, int], ...]) -> tuple[bytes, ...]:
    found = []
    for path, _mtime in files:
        for cert in x509.load_pem_x509_certificates(Path(path).read_bytes()):
            found.append(cert.public_bytes(Encoding.DER))
    return tuple(found)


def ca_certificates() -> tuple[bytes, ...]:
    """The DER of every CA certificate of LEDGER_TSA_CA_FILES (read again when one changes)."""
    files = []
    for path in settings.LEDGER_TSA_CA_FILES:
        try:
            files.append((path, Path(path).stat().st_mtime_ns))
        except OSError:
            log.error("LEDGER_TSA_CA_FILES: %s cannot be read", path)
    return _read_cas(tuple(files))


def ca_fingerprints() -> set[str]:
    """The fingerprints the log side pins: `tsa-ca` lines of its own trust policy."""
    return {tokens.fingerprint(der) for der in ca_certificates()}


def ask(url: str, query: bytes, timeout: float) -> bytes:
    """POST a TimeStampReq to a TSA; its TimeStampResp, or TsaFailed."""
    local = local_tsas.get(url)
    if local is not None:
        return local(query)
    request = urllib.request.Request(
        url, data=query, method="POST", headers={"Content-Type": tokens.MEDIA_TYPE_QUERY}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        raise TsaFailed(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TsaFailed(f"unreachable: {getattr(exc, 'reason', exc)}") from None


def stamp(url: str, checkpoint: PublishedCheckpoint) -> CheckpointTimestamp:
    """Ask one TSA for a token over `checkpoint`, verify it, store it; TsaFailed else."""
    message = body(checkpoint.note)
    query = tokens.request(message)
    reply = ask(url, query.der, settings.LEDGER_TSA_TIMEOUT)
    try:
        token = tokens.token_of(reply)
        checked = tokens.check(
            token, message, ca_fingerprints(), ca_certificates(), nonce=query.nonce
        )
    except tokens.TokenError as exc:
        raise TsaFailed(f"refused its token: {exc}") from None
    row = CheckpointTimestamp(
        checkpoint=checkpoint,
        tsa=checked.tsa,
        url=url,
        token=token,
        gen_time=checked.gen_time,
        ca=checked.ca,
        received_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # another timestamper was first for this checkpoint and TSA
        return CheckpointTimestamp.objects.get(checkpoint=checkpoint, url=url)
    return row


def _backoff(failures: int) -> float:
    return min(settings.LEDGER_TSA_RETRY_MAX, settings.LEDGER_TSA_RETRY * 2 ** (failures - 1))


def _due(state: TimestampAuthority, newest: PublishedCheckpoint, now) -> bool:
    if state.timestamped_size >= newest.tree_size:
        return False
    if state.retry_at is not None and state.retry_at > now:
        return False
    period = timedelta(seconds=settings.LEDGER_TIMESTAMP_PERIOD)
    return not (state.ok and state.checked_at is not None and now - state.checked_at < period)


def timestamp_newest() -> int:
    """Have every due TSA timestamp the newest published checkpoint; how many tokens were
    stored. Safe to run at once in several processes (one runs, the others return 0)."""
    if not settings.LEDGER_TSA_URLS:
        return 0
    with locks.held(_ADVISORY_LOCK_ID) as mine:
        if not mine:
            return 0
        newest = store.latest_checkpoint()
        if newest is None:
            return 0
        stored = 0
        for url in settings.LEDGER_TSA_URLS:
            state, _ = TimestampAuthority.objects.get_or_create(url=url)
            now = timezone.now()
            if not _due(state, newest, now):
                continue
            try:
                row = stamp(url, newest)
            except TsaFailed as exc:
                _failed(state, newest, str(exc))
                continue
            state.name, state.timestamped_size, state.timestamped_at = (
                row.tsa,
                newest.tree_size,
                row.gen_time,
            )
            state.ok, state.failures, state.failing_since = True, 0, None
            state.last_error, state.retry_at, state.checked_at = "", None, timezone.now()
            state.save()
            stored += 1
        return stored


def _failed(state: TimestampAuthority, newest: PublishedCheckpoint, error: str) -> None:
    now = timezone.now()
    if state.ok or state.failing_since is None:
        state.failing_since = now
    state.ok, state.last_error, state.checked_at = False, error[:1000], now
    state.failures += 1
    state.retry_at = now + timedelta(seconds=_backoff(state.failures))
    state.save()
    log.warning(
        "TSA %s did not timestamp checkpoint %d (%d in a row): %s",
        state.url,
        newest.tree_size,
        state.failures,
        error,
    )


def for_size(size: int) -> list[CheckpointTimestamp]:
    """The tokens of the published checkpoint of `size`, earliest genTime first."""
    return list(CheckpointTimestamp.objects.filter(checkpoint_id=size).order_by("gen_time", "id"))


def earliest_covering(index: int) -> int | None:
    """The smallest published size above `index` that has a token: the first checkpoint
    with trusted time that covers entry `index`; None when none has one yet."""
    return (
        CheckpointTimestamp.objects.filter(checkpoint_id__gt=index)
        .order_by("checkpoint_id")
        .values_list("checkpoint_id", flat=True)
        .first()
    )


def run(stop: threading.Event | None = None) -> None:
    """Timestamp forever, every LEDGER_TIMESTAMP_PERIOD seconds."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            timestamp_newest()
        except Exception:
            log.exception("timestamping failed; retrying")
            connection.close()
        stop.wait(settings.LEDGER_TIMESTAMP_PERIOD)
    connection.close()


_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def start_thread() -> None:
    """Start this process's timestamper thread, once, when TSAs are configured."""
    global _thread
    if not settings.LEDGER_TSA_URLS:
        return
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=run, name="ledger-timestamper", daemon=True)
            _thread.start()
