"""Publication: a signed checkpoint is shown to readers only once its witnesses cosign it.

The sequencer signs a checkpoint per batch and never waits for anyone (integration).
The publisher takes the newest signed checkpoint not yet published and sends it to every
witness of LEDGER_WITNESS_POLICY at once (C2SP tlog-witness `add-checkpoint`), each with
the consistency proof from the size that witness last cosigned; a 409 gives the size it
holds, and the request is sent once more from there. As soon as the cosignatures meet the
quorum, the checkpoint is published with them (a PublishedCheckpoint row), as in Tessera's
WithWitnesses. Answers still outstanding are recorded when they come, without holding up
the next round. Without the quorum nothing is published, so receipts wait (nothing
acknowledged is lost: entries and signed checkpoints are committed) and publication
resumes when witnesses return; LEDGER_WITNESS_FAIL_OPEN publishes it uncosigned after
LEDGER_WITNESS_TIMEOUT instead.

A log without witnesses publishes in the sequencer's own transaction (publish_signed).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from anchoring import keys, locks, metrics, store
from anchoring.models import Checkpoint, PublishedCheckpoint, WitnessState
from anchoring.note import NoteError, encode_base64, open_note
from anchoring.policy import Policy, Witness

log = logging.getLogger(__name__)

_ADVISORY_LOCK_ID = 0x4A564C_5055424C  # names the lock that lets one publisher run at once
_MAX_ANSWER = 64 * 1024  # bytes read of a witness's answer
_SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    """One witness's answer to one add-checkpoint request."""

    name: str
    old: int
    status: int | None  # HTTP status; None when no answer came
    body: str
    error: str = ""  # why it is not a cosignature, in the words logged and shown

    @property
    def conflict_size(self) -> int | None:
        """The size a 409 says the witness last cosigned."""
        if self.status != 409:
            return None
        text = self.body.strip()
        return int(text) if text.isdigit() else None


def request_body(old: int, proof: list[bytes], note: str) -> bytes:
    """An add-checkpoint body: the old size, the proof lines, an empty line, the note."""
    lines = [f"old {old}", *(encode_base64(h) for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


# Witnesses served by this very process, by submission prefix: a function of the request
# body answering (HTTP status, body). Only the embedded default's demo alliance registers
# here (demo/alliance.py), because its witnesses must answer while no server listens yet.
LocalWitness = Callable[[bytes], tuple[int, str]]
local_witnesses: dict[str, LocalWitness] = {}


def ask(witness: Witness, old: int, proof: list[bytes], note: str, timeout: float) -> Answer:
    """POST one add-checkpoint request to a witness (runs in a pool thread)."""
    prefix = (witness.url or "").rstrip("/")
    local = local_witnesses.get(prefix)
    if local is not None:
        try:
            status, text = local(request_body(old, proof, note))
        finally:
            connection.close()  # the pool thread's own connection
        error = "" if status == 200 else f"HTTP {status}: {text.strip()[:200]}"
        return Answer(witness.name, old, status, text, error)
    try:
        status, body = _post(prefix + "/add-checkpoint", request_body(old, proof, note), timeout)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Answer(witness.name, old, None, "", f"unreachable: {exc}")
    error = "" if status == 200 else f"HTTP {status}: {body.strip()[:200]}"
    return Answer(witness.name, old, status, body, error)


# Kept-alive connections by scheme and host, as tlog-witness asks of clients: a witness
# is sent at most one request at a time (Publisher.in_flight), so one each is enough.
_idle: dict[str, http.client.HTTPConnection] = {}


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str]:
    """POST `body`; the status and (at most _MAX_ANSWER bytes of) the answer's text."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    key = f"{parts.scheme}://{parts.netloc}"
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    for attempt in (1, 2):
        conn = _idle.pop(key, None)
        reused = conn is not None
        if conn is None:
            kind = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = kind(parts.hostname, parts.port, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        try:
            conn.request("POST", parts.path or "/", body, headers)
            response = conn.getresponse()
            data = response.read(_MAX_ANSWER)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            conn.close()
            if reused and attempt == 1:
                continue  # the witness closed an idle connection: once more on a new one
            raise
        except BaseException:
            conn.close()
            raise
        if response.isclosed() and not response.will_close:
            _idle[key] = conn
        else:
            conn.close()
        return response.status, data.decode("utf-8", "replace")
    raise AssertionError("unreachable")


def cosignature_lines(witness: Witness, note: str, answer: Answer) -> str:
    """The lines of a 200 answer that are valid cosignatures by this witness of `note`."""
    kept = []
    for line in answer.body.splitlines(keepends=True):
        if not line.endswith("\n"):
            line += "\n"
        try:
            open_note(note + line, [witness.verifier])
        except NoteError:
            continue
        kept.append(line)
    return "".join(kept)


class _Round:
    """One checkpoint sent to every witness, until the quorum is met or time is up."""

    def __init__(self, publisher: Publisher, signed: Checkpoint, policy: Policy) -> None:
        self.publisher, self.signed, self.policy = publisher, signed, policy
        self.deadline = time.monotonic() + settings.LEDGER_WITNESS_TIMEOUT
        self.lines: dict[str, str] = {}  # witness name -> its cosignature line(s)
        self.pending: dict[Future, Witness] = {}
        self.retried: set[str] = set()
        # Each answer, with the size it shows the witness holds: recorded (record()) once
        # the round is over, so that publication does not wait for those writes.
        self.answers: list[tuple[Witness, Answer, int | None]] = []

    def send(self, witness: Witness, old: int) -> None:
        size = self.signed.tree_size
        proof = store.consistency_proof(old, size) if 0 < old < size else []
        timeout = max(0.1, self.deadline - time.monotonic())
        future = self.publisher.pool.submit(ask, witness, old, proof, self.signed.note, timeout)
        self.publisher.in_flight[witness.name] = future
        self.pending[future] = witness

    def run(self, states: dict[str, WitnessState]) -> bool:
        """Ask every witness not already busy; True once the quorum is met."""
        for witness in self.policy.witness_list.values():
            if witness.url and witness.name not in self.publisher.in_flight:
                state = states.get(witness.name)
                self.send(witness, state.cosigned_size if state else 0)
        while self.pending and not self.met():
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                break
            done, _ = wait_for(list(self.pending), timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                witness = self.pending.pop(future)
                self.publisher.in_flight.pop(witness.name, None)
                self.take(witness, future.result())
        timed_out = time.monotonic() >= self.deadline
        for future, witness in self.pending.items():
            # Still outstanding: its answer is recorded by a later round when it comes.
            self.publisher.late[witness.name] = (future, self.signed)
            if timed_out:
                wait = settings.LEDGER_WITNESS_TIMEOUT
                silence = Answer(witness.name, 0, None, "", f"no answer in {wait} s")
                self.answers.append((witness, silence, None))
        return self.met()

    def record(self) -> None:
        """Keep what each witness answered in this round."""
        for witness, answer, size in self.answers:
            record(witness, answer, self.signed, cosigned_size=size)

    def take(self, witness: Witness, answer: Answer) -> None:
        size = answer.conflict_size
        if size is not None and witness.name not in self.retried and size <= self.signed.tree_size:
            # The witness holds another size than we thought: once more, from there.
            self.retried.add(witness.name)
            self.answers.append((witness, answer, size))
            self.send(witness, size)
            return
        if answer.status == 200:
            lines = cosignature_lines(witness, self.signed.note, answer)
            if lines:
                self.lines[witness.name] = lines
                self.answers.append((witness, answer, self.signed.tree_size))
                return
            answer = Answer(
                answer.name, answer.old, 200, answer.body, "answered no valid cosignature"
            )
        self.answers.append((witness, answer, None))

    def met(self) -> bool:
        return self.policy.quorum is None or self.policy.satisfied(
            self.policy.quorum, set(self.lines)
        )

    def note(self) -> str:
        """The signed note with the cosignatures, in the policy's order of witnesses."""
        return self.signed.note + "".join(
            self.lines[name] for name in self.policy.witness_list if name in self.lines
        )


def record(
    witness: Witness, answer: Answer, signed: Checkpoint, cosigned_size: int | None = None
) -> None:
    """Keep what a witness answered: the size it holds, whether it is working, since when."""
    now = timezone.now()
    state, _ = WitnessState.objects.get_or_create(
        name=witness.name, defaults={"vkey": witness.vkey, "url": witness.url or ""}
    )
    state.vkey, state.url, state.checked_at = witness.vkey, witness.url or "", now
    if cosigned_size is not None:
        state.cosigned_size = cosigned_size
    if answer.status == 200 and not answer.error:
        state.cosigned_at = now
        state.ok, state.failing_since, state.last_error = True, None, ""
    elif answer.status != 409:
        if state.ok or state.failing_since is None:
            state.failing_since = now
        state.ok, state.last_error = False, answer.error
        log.warning(
            "witness %s did not cosign checkpoint %d (old %d): %s",
            witness.name,
            signed.tree_size,
            answer.old,
            answer.error,
        )
    state.save()
    metrics.witness_answer(witness.name, answer.status)


class Publisher:
    """The publishing side of one process: its thread pool and its outstanding requests."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="witness")
        self.in_flight: dict[str, Future] = {}
        self.late: dict[str, tuple[Future, Checkpoint]] = {}
        self._lock = threading.Lock()

    def publish(self) -> PublishedCheckpoint | None:
        """Publish the newest signed checkpoint if its quorum is met; the row, or None."""
        with self._lock, locks.held(_ADVISORY_LOCK_ID) as mine:
            if not mine:
                return None
            return self._publish()

    def _publish(self) -> PublishedCheckpoint | None:
        signed, published = store.latest_signed(), store.latest_checkpoint()
        if signed is None or (published is not None and published.tree_size >= signed.tree_size):
            return None
        policy = keys.witness_policy()
        if policy is None or not policy.witness_list:
            return _insert(signed, signed.note, quorum_met=True)
        self._harvest(policy)
        states = {s.name: s for s in WitnessState.objects.filter(name__in=policy.witness_list)}
        attempt = _Round(self, signed, policy)
        if attempt.run(states):
            published = _insert(signed, attempt.note(), quorum_met=True)
            attempt.record()  # after publication, which need not wait for these writes
            return published
        attempt.record()
        waited = (timezone.now() - signed.created_at).total_seconds()
        if settings.LEDGER_WITNESS_FAIL_OPEN and waited >= settings.LEDGER_WITNESS_TIMEOUT:
            log.error(
                "checkpoint %d published WITHOUT its witness quorum (LEDGER_WITNESS_FAIL_OPEN)",
                signed.tree_size,
            )
            return _insert(signed, attempt.note(), quorum_met=False)
        log.warning(
            "checkpoint %d not published: quorum %r not met (cosigned by: %s)",
            signed.tree_size,
            policy.quorum,
            ", ".join(attempt.lines) or "none",
        )
        return None

    def _harvest(self, policy: Policy) -> None:
        """Record the answers that came after their round ended."""
        for name, (future, signed) in list(self.late.items()):
            if not future.done():
                continue
            del self.late[name]
            self.in_flight.pop(name, None)
            witness = policy.witness_list.get(name)
            if witness is None:
                continue
            answer = future.result()
            cosigned = signed.tree_size if answer.status == 200 else answer.conflict_size
            record(witness, answer, signed, cosigned_size=cosigned)

    def run(self, stop: threading.Event | None = None) -> None:
        """Publish forever: at once when woken (a batch committed), else every
        LEDGER_WITNESS_RETRY seconds."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.publish()
            except Exception:
                log.exception("publication failed; retrying")
                connection.close()
            behind = _behind()
            _wake.wait(0 if behind is None else settings.LEDGER_WITNESS_RETRY)
            _wake.clear()
        connection.close()


def _behind() -> bool | None:
    """Whether a signed checkpoint is waiting; None when that cannot be read."""
    try:
        signed, published = store.latest_signed(), store.latest_checkpoint()
    except Exception:
        connection.close()
        return True
    if signed is None:
        return True
    return published is None or published.tree_size < signed.tree_size


def _insert(signed: Checkpoint, note: str, *, quorum_met: bool) -> PublishedCheckpoint | None:
    row = PublishedCheckpoint(
        tree_size=signed.tree_size,
        root_hash=bytes(signed.root_hash),
        note=note,
        quorum_met=quorum_met,
        published_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # another publisher was first
        return None
    metrics.published(signed.tree_size, signed.created_at)
    return row


def publish_signed(signed: Checkpoint) -> None:
    """Publish a checkpoint as it is signed, in the sequencer's transaction: for a log
    without witnesses, whose readers need not wait for a publisher."""
    PublishedCheckpoint.objects.create(
        tree_size=signed.tree_size,
        root_hash=bytes(signed.root_hash),
        note=signed.note,
        quorum_met=True,
        published_at=signed.created_at,
    )


_wake = threading.Event()
publisher = Publisher()


def wake() -> None:
    """A batch committed a new signed checkpoint: publish it now."""
    _wake.set()


_thread: threading.Thread | None = None
_thread_lock = threading.Lock()


def start_thread() -> None:
    """Start this process's publisher thread, once (the embedded default, `sequencer`)."""
    global _thread
    with _thread_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=publisher.run, name="ledger-publisher", daemon=True)
            _thread.start()
