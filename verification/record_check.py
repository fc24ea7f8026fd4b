"""A record as the ledger proves it: its rows checked against its ledger entries.

The ledger, not the database, is the truth. A record's registration entry is the first
ledger entry naming its code; every field that entry commits to is compared with the
record row (the metadata digest recomputed from the row and its salt). The service
timeline is built from the ledger's entries about the record, each matched byte for byte
with the leaf rebuilt from an event row. What disagrees is named, an alarm is raised, and
nothing of it is shown as verified: public_face() shows only what the ledger proves.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from django.conf import settings
from django.utils import timezone

from anchoring import alarms
from anchoring.backend import BackendUnavailable, LedgerBackend, LedgerEntry, get_backend
from anchoring.leaf import Kind, Leaf, LeafError, decode, subject
from documents import codes, entries, ledger
from documents.models import Court, Record, ServiceEvent
from documents.public import mask_case_number, mask_name, service_events

# What a litigant reads for each part of a record that disagrees with its entry.
FIELD_WORDS = {
    "missing": ("账本中没有该记录的登记条目", "the ledger has no registration entry for it"),
    "row": ("本平台的记录数据已损坏", "the portal's copy of it is damaged"),
    "kind": ("条目类型", "the entry's kind"),
    "time": ("登记时间", "the time recorded"),
    "sha256": ("文件摘要（SHA-256）", "the file's digest (SHA-256)"),
    "sm3": ("文件摘要（SM3）", "the file's digest (SM3)"),
    "category": ("类别", "the category"),
    "court": ("法院", "the court"),
    "code": ("核验码", "the record code"),
    "metadata": ("标题、案号、当事人或文件信息", "the title, case number, parties or file details"),
    "ledger_index": ("账本位置", "its ledger position"),
    "reused": ("账本中另有条目冒用此核验码", "a later ledger entry reuses this record code"),
}


@dataclass
class EventCheck:
    """One service event: its ledger entry and its row, matched; either may be missing."""

    entry: LedgerEntry | None
    leaf: Leaf | None
    row: ServiceEvent | None
    differences: list[str] = field(default_factory=list)

    @property
    def proven(self) -> bool:
        """The row is byte for byte what its ledger entry commits to."""
        return self.entry is not None and self.row is not None and not self.differences

    @property
    def pending(self) -> bool:
        """A row whose entry is still pooled: not yet provable, not a disagreement."""
        return self.entry is None and self.row is not None and not self.differences


@dataclass
class RecordCheck:
    """A record row against the ledger: its registration entry, what differs, its events."""

    record: Record
    entry: LedgerEntry | None
    leaf: Leaf | None
    differences: list[str]
    reused_by: list[int]
    events: list[EventCheck]
    pooled: bool = False  # no entry yet because its submission waits for a batch

    @property
    def agrees(self) -> bool:
        """Every row agrees with the ledger (an entry still pooled is not a disagreement)."""
        return (
            not self.differences
            and not self.reused_by
            and all(e.proven or e.pending for e in self.events)
        )

    def problems(self) -> list[str]:
        """What disagrees, in plain English, for the operator's alarm."""
        found = [f"record row: {name}" for name in self.differences]
        found += [f"entry {i} reuses the record code" for i in self.reused_by]
        for e in self.events:
            if e.row is None:
                assert e.entry is not None  # an event check has an entry, a row or both
                found.append(f"service event entry {e.entry.index} has no row")
            elif e.entry is None and e.differences:
                found.append(f"service event row {e.row.pk} ({e.row.event}) has no ledger entry")
            elif e.entry is not None and e.differences:
                found.append(
                    f"service event row {e.row.pk} differs from entry {e.entry.index}: "
                    + ", ".join(e.differences)
                )
        return found


def entries_about(found: list[LedgerEntry], code: str) -> list[tuple[LedgerEntry, Leaf]]:
    """The entries whose leaf names this record code, by index; the columns a backend
    looked them up by are not trusted, only the leaf bytes."""
    out, seen = [], set()
    for entry in sorted(found, key=lambda e: e.index):
        if entry.index in seen:
            continue
        seen.add(entry.index)
        try:
            parsed = decode(entry.leaf)
        except LeafError:
            continue
        if subject(parsed) == code:
            out.append((entry, parsed))
    return out


def check_record(record: Record, backend: LedgerBackend) -> RecordCheck:
    """Compare a record and its service events with the ledger (BackendUnavailable
    propagates: a ledger that cannot answer is "could not check")."""
    found = list(backend.entries_by_subject(record.code))
    if record.ledger_index is not None and all(e.index != record.ledger_index for e in found):
        # The row's own index, in case the look-up by code missed it; an index the ledger
        # does not have is reported as a difference below, not as an outage.
        with contextlib.suppress(BackendUnavailable):
            found.append(backend.entry(record.ledger_index))
    about = entries_about(found, record.code)
    registrations = [(e, leaf) for e, leaf in about if leaf.kind == Kind.RECORD]
    if not registrations:
        pooled = _may_be_pooled(record.ledger_index, record.recorded_at)
        events = [EventCheck(None, None, row) for row in service_events(record)]
        return RecordCheck(record, None, None, [] if pooled else ["missing"], [], events, pooled)
    entry, leaf = registrations[0]
    differences = ledger.record_differences(record, leaf)
    if record.ledger_index is not None and record.ledger_index != entry.index:
        differences.append("ledger_index")
    reused = [e.index for e, _ in registrations[1:]]
    events = _match_events(
        record, entry.index, _event_entries(about, entry), service_events(record)
    )
    if not all(e.proven or e.pending for e in events):
        events = _match_again(record, entry, found, backend)
    return RecordCheck(record, entry, leaf, differences, reused, events)


def _event_entries(
    about: list[tuple[LedgerEntry, Leaf]], registration: LedgerEntry
) -> list[tuple[LedgerEntry, Leaf]]:
    return [
        (e, parsed)
        for e, parsed in about
        if parsed.kind == Kind.SERVICE_EVENT and e.index > registration.index
    ]


def _match_again(
    record: Record, registration: LedgerEntry, found: list[LedgerEntry], backend: LedgerBackend
) -> list[EventCheck]:
    """Match the events once more before calling them a disagreement: the rows and the
    entries were read at different moments, and a batch that committed in between leaves
    an entry whose row was read before it existed, or a row whose index names an entry
    integrated after the look-up. So the rows are read again, now after the entries (a
    row commits before its entry), and any entry a row names is fetched by its index."""
    rows = list(ServiceEvent.objects.filter(record=record).select_related("addressee"))
    seen = {e.index for e in found}
    found = list(found)
    for index in {r.ledger_index for r in rows if r.ledger_index is not None} - seen:
        with contextlib.suppress(BackendUnavailable):  # a missing index stays a difference
            found.append(backend.entry(index))
    about = entries_about(found, record.code)
    return _match_events(record, registration.index, _event_entries(about, registration), rows)


def _match_events(
    record: Record,
    record_index: int,
    found: list[tuple[LedgerEntry, Leaf]],
    rows: list[ServiceEvent],
) -> list[EventCheck]:
    """Pair each service event entry with the row whose rebuilt leaf it is; the rest of
    either side stays unpaired. Ordered as the ledger has them, unmatched rows last."""
    by_leaf: dict[bytes, ServiceEvent] = {}
    for candidate in rows:
        try:
            by_leaf.setdefault(
                ledger.event_leaf(candidate, record, record_index).encode(), candidate
            )
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
    checks, used = [], set()
    for entry, parsed in found:
        row = by_leaf.get(entry.leaf)
        if row is not None and row.pk not in used:
            used.add(row.pk)
            moved = row.ledger_index is not None and row.ledger_index != entry.index
            checks.append(EventCheck(entry, parsed, row, ["ledger_index"] if moved else []))
            continue
        # No row makes this leaf: name what differs from the row that claims its index.
        claimant = next((r for r in rows if r.ledger_index == entry.index), None)
        if claimant is not None and claimant.pk not in used:
            used.add(claimant.pk)
            diff = ledger.event_differences(claimant, record, record_index, parsed)
            checks.append(EventCheck(entry, parsed, claimant, diff or ["row"]))
        else:
            checks.append(EventCheck(entry, parsed, None, ["no row"]))
    for row in rows:
        if row.pk not in used:
            pooled = _may_be_pooled(row.ledger_index, row.recorded_at)
            checks.append(EventCheck(None, None, row, [] if pooled else ["no entry"]))
    return checks


def _may_be_pooled(ledger_index: int | None, recorded_at: datetime) -> bool:
    """A row with no entry may still wait for its batch, but not with an index of its own
    nor for longer than LEDGER_PENDING_GRACE: then its entry is missing."""
    grace = timedelta(seconds=settings.LEDGER_PENDING_GRACE)
    return ledger_index is None and recorded_at > timezone.now() - grace


def alarm(check: RecordCheck) -> None:
    """Tell the operator that a record's rows disagree with the ledger."""
    alarms.raise_alarm(
        alarms.Alarm.Source.VERIFICATION,
        "the portal's rows disagree with the ledger: " + "; ".join(check.problems()),
        subject=f"record {codes.display(check.record.code)}",
        index=check.entry.index if check.entry else None,
    )


def disagreement_words(check: RecordCheck) -> tuple[str, str]:
    """What disagrees, in words a litigant understands (zh, en)."""
    names = list(check.differences) + (["reused"] if check.reused_by else [])
    parts = [FIELD_WORDS.get(n, (n, n)) for n in names]
    if any(not e.proven and e.differences for e in check.events):
        parts.append(("送达记录", "the service record"))
    zh = "、".join(p[0] for p in parts) or "记录"
    en = ", ".join(p[1] for p in parts) or "the record"
    return zh, en


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _court(record: Record, code: str) -> dict:
    """The court a leaf names, with its names from the portal's directory (the record's
    own court, already loaded, when the codes agree)."""
    court = record.court if record.court.code == code else Court.objects.filter(code=code).first()
    return {
        "code": code,
        "name_zh": court.name_zh if court else code,
        "name_en": court.name_en if court else code,
    }


def public_face(check: RecordCheck, *, full: bool = False) -> dict:
    """The record as pages, answers and certificates show it: what the ledger proves.

    Code, court, category, time and digests come from the registration entry's leaf;
    title, case number, parties and file details from the row only where the leaf's
    metadata digest proves them (else None, and named in `unchecked`); the timeline from
    the ledger's event entries. `ledger_agrees` is False when any row disagrees.
    """
    record, leaf = check.record, check.leaf
    if leaf is None:
        return {
            "code": codes.display(record.code),
            "ledger_agrees": check.pooled,
            "pending": check.pooled,
            "unchecked": ["court", "category", "title", "recorded_at", "case_number", "parties"],
            "court": None,
            "category": None,
            "category_label": None,
            "title": None,
            "recorded_at": None,
            "case_number": None,
            "parties": [],
            "media_type": None,
            "size": None,
            "download": False,
            "timeline": [],
        }
    assert check.entry is not None  # the leaf is its entry's
    fields = dict(leaf.fields)
    category = entries.Category(fields[entries.RECORD_CATEGORY][0]).name.lower()
    proven = "metadata" not in check.differences and "row" not in check.differences
    unchecked = [] if proven else ["title", "case_number", "parties", "media_type", "size"]
    case_number = record.case_number if full else mask_case_number(record.case_number)
    parties = record.parties if full else [mask_name(p) for p in record.parties]
    return {
        "code": codes.display(record.code),
        "ledger_agrees": check.agrees,
        "pending": False,
        "unchecked": unchecked,
        "court": _court(record, fields[entries.RECORD_COURT].decode("utf-8", "replace")),
        "category": category,
        "category_label": Record.Category(category).label,
        "title": record.title if proven else None,
        "recorded_at": leaf.time,
        "case_number": case_number if proven else None,
        "parties": parties if proven else [],
        "media_type": record.media_type if proven else None,
        "size": record.size if proven else None,
        "sha256": leaf.sha256.hex(),
        "sm3": leaf.sm3.hex(),
        "ledger_index": check.entry.index,
        "download": proven and record.allow_download and bool(record.file),
        "timeline": [public_step(e, full) for e in check.events],
    }


_EVENT_VALUES = {number: value for value, number in ledger.EVENT_NUMBERS.items()}
_CHANNEL_VALUES = {number: value for value, number in ledger.CHANNEL_NUMBERS.items()}


def public_step(event: EventCheck, full: bool = False) -> dict:
    """One service event as shown: from the leaf when there is one, with the addressee's
    name only where the leaf's digest proves the row's."""
    if event.leaf is None:  # a row with no entry: shown as not proven
        row = event.row
        assert row is not None  # an event check has an entry, a row or both
        return {
            "event": row.event,
            "label": row.get_event_display(),
            "channel": row.channel or None,
            "channel_label": row.get_channel_display() if row.channel else None,
            "addressee": None,
            "occurred_at": row.occurred_at,
            "ledger_index": None,
            "proven": False,
            "pending": event.pending,
        }
    assert event.entry is not None  # the leaf is its entry's
    fields = dict(event.leaf.fields)
    value = _EVENT_VALUES[entries.EventType(fields[entries.EVENT_TYPE][0])]
    channel = fields.get(entries.EVENT_CHANNEL)
    channel_value = _CHANNEL_VALUES.get(entries.Channel(channel[0])) if channel else None
    occurred = fields.get(entries.EVENT_OCCURRED_AT)
    name = ""
    if event.proven and event.row is not None and event.row.addressee:
        name = event.row.addressee.name if full else mask_name(event.row.addressee.name)
    return {
        "event": value,
        "label": ServiceEvent.Event(value).label,
        "channel": channel_value,
        "channel_label": ServiceEvent.Channel(channel_value).label if channel_value else None,
        "addressee": name or None,
        "occurred_at": _time(int.from_bytes(occurred, "big")) if occurred else event.leaf.time,
        "ledger_index": event.entry.index,
        "proven": event.proven,
        "pending": False,
    }


def original_matches(record: Record, check: RecordCheck, copy_to: IO[bytes] | None = None) -> bool:
    """Whether the file the portal keeps for a record is the one its registration entry
    commits to (and the record agrees with the ledger); an alarm when it is not.

    copy_to receives the bytes that were checked (see ledger.stored_sha256).
    """
    if check.leaf is None or not check.agrees:
        if not check.pooled:
            alarm(check)
        return False
    assert check.entry is not None  # the leaf is its entry's
    if ledger.stored_sha256(record, copy_to) == check.leaf.sha256:
        return True
    alarms.raise_alarm(
        alarms.Alarm.Source.DOWNLOAD,
        "the stored original's SHA-256 is not the one its ledger entry commits to; "
        "it was not served",
        subject=f"record {codes.display(record.code)}",
        index=check.entry.index,
    )
    return False


def face_of(record: Record, *, full: bool = False, check: RecordCheck | None = None) -> dict:
    """What a page or an answer shows of a record: public_face() of a fresh check (or of
    `check`, made in this request); an alarm when it disagrees; when the ledger cannot be
    reached, only the code, with nothing shown as proven (`ledger_agrees` None)."""
    if check is None:
        try:
            check = check_record(record, get_backend())
        except BackendUnavailable:
            return {
                **public_face(RecordCheck(record, None, None, [], [], [], pooled=False)),
                "ledger_agrees": None,
            }
        if not check.agrees:
            alarm(check)
    return public_face(check, full=full)


def faces_of(verifications) -> dict[int | None, dict]:
    """face_of the record of each finished verification given, by record id: each
    distinct record checked against the ledger once (a batch names one record often)."""
    faces: dict[int | None, dict] = {}
    for v in verifications:
        if v.record is not None and v.outcome and v.record_id not in faces:
            faces[v.record_id] = face_of(v.record)
    return faces


def entry_holds(index: int | None, sha256: str, sm3: str) -> bool | None:
    """Whether ledger entry `index` holds these digests (hex; "" when not given): what a
    verified file with no record row (a plain anchor) stands on. None when the ledger
    cannot be reached."""
    if index is None:
        return False
    try:
        leaf = decode(get_backend().entry(index).leaf)
    except BackendUnavailable:
        return None
    except LeafError:
        return False
    given = [(mine.lower(), held.hex()) for mine, held in ((sha256, leaf.sha256), (sm3, leaf.sm3))]
    given = [(mine, held) for mine, held in given if mine]
    return bool(given) and all(mine == held for mine, held in given)


def ledger_agrees(v, face: dict | None) -> bool | None:
    """What Verification.outcome_now weighs: the record's check against the ledger (its
    `face`, from face_of), or for a verified file with no record, whether its ledger entry
    holds its digests; None when nothing was or could be checked."""
    if face is not None:
        return face.get("ledger_agrees")
    if v.record_id is None and v.outcome == "verified":
        return entry_holds(v.ledger_index, v.sha256, v.sm3)
    return None
