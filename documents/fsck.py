"""ledger_fsck's court half, and the whole check: every record and service event row
against the ledger entry it commits to.

While anchoring.fsck streams the entries, `CourtRows.observe` notes, from the leaves
themselves (never the subject column), where each record code was registered (the first
RECORD entry naming it) and which entries are service events. `CourtRows.check` then
reads the rows in chunks and compares each with its entry through documents.ledger,
which rebuilds the leaf a row commits to.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from anchoring import fsck
from anchoring.fsck import Discrepancy, Report
from anchoring.leaf import Kind, Leaf, LeafError, decode, subject
from anchoring.models import Entry, Submission
from anchoring.note import Verifier
from documents import entries, ledger
from documents.models import Record, ServiceEvent

_CHUNK = 1000

# How each part of a leaf is named when a row disagrees with its entry.
_RECORD_LABELS = {
    "kind": "entry kind",
    "time": "recorded_at (the leaf's time)",
    "sha256": "sha256",
    "sm3": "sm3",
    "category": "category",
    "court": "court",
    "code": "code",
    "metadata": "metadata (title, case number, parties, file name, size or media type; "
    "a salted digest)",
}
_EVENT_LABELS = {
    "kind": "entry kind",
    "time": "recorded_at (the leaf's time)",
    "sha256": "record's sha256",
    "sm3": "record's sm3",
    "event": "event",
    "court": "record's court",
    "record_code": "record's code",
    "record_index": "record's registration index",
    "channel": "channel",
    "addressee": "addressee's name or contact (salted digest)",
    "details": "details (salted digest)",
    "occurred_at": "occurred_at",
}


def run(
    on_discrepancy: Callable[[Discrepancy], None] | None = None,
    extra: Sequence[Callable[[Verifier], Iterator[Discrepancy]]] = (),
) -> Report:
    """The ledger, then the court rows, then any `extra` checks (apps above this one: the
    verification side's trusted checkpoints), in one snapshot of the database.

    Each discrepancy goes to `on_discrepancy` as it is found (for a streaming output)."""
    report = Report(started_at=timezone.now())
    started = time.monotonic()

    def found(d: Discrepancy) -> None:
        report.discrepancies.append(d)
        if on_discrepancy is not None:
            on_discrepancy(d)

    try:
        verifier = fsck.log_verifier()
        rows = CourtRows()
        with fsck.snapshot():
            check = fsck.LedgerFsck(verifier, settings.LEDGER_ORIGIN, on_entry=rows.observe)
            for d in check.run():
                found(d)
            report.counts.update(check.counts)
            for d in rows.check():
                found(d)
            report.counts.update(rows.counts)
            for more in extra:
                for d in more(verifier):
                    found(d)
    except fsck.Unusable as exc:
        report.error = str(exc)
    except DatabaseError as exc:
        report.error = f"the database cannot be read ({type(exc).__name__}: {exc})".strip()
    report.seconds = time.monotonic() - started
    return report


class CourtRows:
    """Records and service events against the entries that name their record codes."""

    def __init__(self) -> None:
        self.registered: dict[str, int] = {}  # record code -> its first RECORD entry
        self.event_entries: dict[int, str] = {}  # SERVICE_EVENT entry -> its record code
        self.counts = {"records": 0, "service_events": 0, "still_pooled": 0}
        self._found: list[Discrepancy] = []  # found while the entries stream past

    def observe(self, index: int, parsed: Leaf) -> None:
        """Note what one entry says about a record code (anchoring.fsck's on_entry)."""
        if parsed.kind not in (Kind.RECORD, Kind.SERVICE_EVENT):
            return
        code = subject(parsed)
        if code is None:
            self._found.append(
                _entry(index, f"its {parsed.kind.name} leaf names no valid record code")
            )
        elif parsed.kind == Kind.SERVICE_EVENT:
            self.event_entries[index] = code
        elif code in self.registered:
            self._found.append(
                _entry(
                    index,
                    f"it registers record code {code} again, first registered by entry "
                    f"{self.registered[code]}; a record code is registered once",
                )
            )
        else:
            self.registered[code] = index

    def check(self) -> Iterator[Discrepancy]:
        """Every discrepancy between the rows and the entries observed."""
        yield from self._found
        unclaimed = set(self.registered)
        yield from self._records(unclaimed)
        for code in sorted(unclaimed, key=self.registered.__getitem__):
            index = self.registered[code]
            yield _entry(index, f"it registers record code {code}, but no record has that code")
        yield from self._events()
        yield from self._unclaimed_events()

    # --- Records ---------------------------------------------------------------------

    def _records(self, unclaimed: set[str]) -> Iterator[Discrepancy]:
        for chunk in _chunks(Record.objects.select_related("court")):
            leaves = _leaves(self.registered[r.code] for r in chunk if r.code in self.registered)
            pooled = _pooled(r.submission for r in chunk if r.code not in self.registered)
            for record in chunk:
                self.counts["records"] += 1
                unclaimed.discard(record.code)
                yield from self._record(record, leaves, pooled)

    def _record(
        self, record: Record, leaves: dict[int, Leaf | None], pooled: set[int]
    ) -> Iterator[Discrepancy]:
        where = (
            "documents_record",
            f"id {record.pk} (code {record.code})",
            f"record {record.code}",
        )
        index = self.registered.get(record.code)
        if index is None:
            if record.submission in pooled and record.ledger_index is None:
                self.counts["still_pooled"] += 1
                return
            yield Discrepancy(
                *where,
                "it has no registration entry: no RECORD entry names its code"
                + ("" if record.submission in pooled else ", and its submission is not pooled"),
                expected="a RECORD entry",
                found=_index_text(record.ledger_index),
            )
            return
        if record.ledger_index != index:
            yield Discrepancy(
                *where,
                "its ledger_index column is not the index of its registration entry",
                expected=str(index),
                found=_index_text(record.ledger_index),
                index=index,
            )
        actual = leaves.get(index)
        if actual is None:  # it decoded a moment ago, in the same snapshot
            return
        for name in ledger.record_differences(record, actual):
            yield self._difference(where, index, name, actual, lambda: ledger.record_leaf(record))
        if record.file:
            stored = ledger.stored_sha256(record)
            if stored != actual.sha256:
                yield Discrepancy(
                    *where,
                    f"its stored file {record.file.name} is not the file its registration "
                    "entry commits to",
                    expected=f"sha256 {actual.sha256.hex()}",
                    found=f"sha256 {stored.hex()}" if stored else "no readable file",
                    index=index,
                )

    # --- Service events ----------------------------------------------------------------

    def _events(self) -> Iterator[Discrepancy]:
        rows = ServiceEvent.objects.select_related("record__court", "addressee")
        for chunk in _chunks(rows):
            leaves = _leaves(e.ledger_index for e in chunk if e.ledger_index is not None)
            pooled = _pooled(e.submission for e in chunk if e.ledger_index is None)
            for event in chunk:
                self.counts["service_events"] += 1
                yield from self._event(event, leaves, pooled)

    def _event(
        self, event: ServiceEvent, leaves: dict[int, Leaf | None], pooled: set[int]
    ) -> Iterator[Discrepancy]:
        record = event.record
        where = (
            "documents_serviceevent",
            f"id {event.pk} (record {record.code}, {event.event})",
            f"service event {event.pk}",
        )
        index = event.ledger_index
        if index is None:
            if event.submission in pooled:
                self.counts["still_pooled"] += 1
                return
            yield Discrepancy(
                *where,
                "it has no ledger entry: its ledger_index is empty and its submission is "
                "not pooled",
                expected="a SERVICE_EVENT entry",
                found="none",
            )
            return
        actual = leaves.get(index)
        if actual is None:
            yield Discrepancy(
                *where,
                f"its ledger_index names entry {index}, which the log does not have"
                if index not in leaves
                else f"its ledger_index names entry {index}, which is not a well-formed leaf",
                index=index,
            )
            return
        if actual.kind != Kind.SERVICE_EVENT:
            yield Discrepancy(
                *where,
                f"its ledger_index names entry {index}, which is not a service event",
                expected=Kind.SERVICE_EVENT.name,
                found=actual.kind.name,
                index=index,
            )
            return
        self.event_entries.pop(index, None)
        record_index = self.registered.get(record.code)
        if record_index is None:  # reported with the record; compare the rest
            written = dict(actual.fields).get(entries.EVENT_RECORD_INDEX, b"")
            record_index = int.from_bytes(written, "big") if written else record.ledger_index or 0
        for name in ledger.event_differences(event, record, record_index, actual):
            yield self._difference(
                where, index, name, actual, lambda: ledger.event_leaf(event, record, record_index)
            )

    def _unclaimed_events(self) -> Iterator[Discrepancy]:
        """Service event entries no row claims."""
        items = sorted(self.event_entries.items())
        for i in range(0, len(items), _CHUNK):
            part = items[i : i + _CHUNK]
            codes = {code for _, code in part}
            known = set(Record.objects.filter(code__in=codes).values_list("code", flat=True))
            for index, code in part:
                if code in known:
                    what = (
                        f"it is a service event of record {code}, but no service event row "
                        f"has ledger_index {index}"
                    )
                else:
                    what = f"it is a service event of record code {code}, which no record has"
                yield _entry(index, what)

    # --- Both --------------------------------------------------------------------------

    def _difference(
        self,
        where: tuple[str, str, str],
        index: int,
        name: str,
        actual: Leaf,
        rebuild: Callable[[], Leaf],
    ) -> Discrepancy:
        """One part of a row that its entry does not commit to, with both values."""
        if name == "row":
            return Discrepancy(
                *where,
                f"the row cannot be turned into a leaf to compare with entry {index} "
                "(an unknown choice or a malformed digest)",
                index=index,
            )
        labels = _RECORD_LABELS if actual.kind == Kind.RECORD else _EVENT_LABELS
        return Discrepancy(
            *where,
            f"its {labels.get(name, name)} is not what ledger entry {index} commits to",
            expected=_value(actual, name),
            found=_value(rebuild(), name),
            index=index,
        )


def _chunks(rows) -> Iterator[list]:
    """The rows of a queryset by primary key, a chunk per query."""
    after = 0
    while True:
        chunk = list(rows.filter(pk__gt=after).order_by("pk")[:_CHUNK])
        if not chunk:
            return
        yield chunk
        after = chunk[-1].pk


def _leaves(indexes) -> dict[int, Leaf | None]:
    """The decoded leaves of these entries (None for one that does not decode)."""
    wanted = sorted(set(indexes))
    out: dict[int, Leaf | None] = {}
    for index, data in Entry.objects.filter(index__in=wanted).values_list("index", "data"):
        try:
            out[index] = decode(bytes(data))
        except LeafError:
            out[index] = None
    return out


def _pooled(submissions) -> set[int]:
    """Which of these submissions still wait in the sequencer's pool."""
    ids = sorted(set(submissions))
    if not ids:
        return set()
    return set(Submission.objects.filter(id__in=ids).values_list("id", flat=True))


def _entry(index: int, what: str) -> Discrepancy:
    return Discrepancy("anchoring_entry", f"index {index}", f"entry {index}", what, index=index)


def _index_text(index: int | None) -> str:
    return "empty" if index is None else str(index)


def _value(parsed: Leaf, name: str) -> str:
    """One named part of a leaf, as shown in a discrepancy."""
    if name == "kind":
        return parsed.kind.name
    if name == "time":
        return _moment(parsed.timestamp_ms)
    if name in ("sha256", "sm3"):
        return getattr(parsed, name).hex()
    names = entries.RECORD_FIELD_NAMES if parsed.kind == Kind.RECORD else entries.EVENT_FIELD_NAMES
    tag = {n: t for t, n in names.items()}.get(name)
    value = None if tag is None else dict(parsed.fields).get(tag)
    if value is None:
        return "nothing"
    try:
        if name == "category":
            return entries.Category(value[0]).name.lower()
        if name == "event":
            return entries.EventType(value[0]).name.lower()
        if name == "channel":
            return entries.Channel(value[0]).name.lower()
        if name == "record_index":
            return str(struct.unpack(">Q", value)[0])
        if name == "occurred_at":
            return _moment(struct.unpack(">Q", value)[0])
        if name in ("court", "code", "record_code"):
            return value.decode()
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        pass
    return value.hex()


def _moment(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
