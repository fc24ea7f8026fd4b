"""The proof bundle: everything needed to re-check a verification with no network.

One versioned JSON document (schema in docs/formats.md): the ledger entry and its
decoded inputs, its inclusion proof in C2SP tlog-proof form (which carries the signed
checkpoint), the consistency proof from the checkpoint the portal trusted before, each
service event's entry and proof, and, when the holder proved possession of the file, the
opening of the record's salted metadata digest. It is attached inside the certificate PDF
and downloadable on its own.

Plain Python with no Django import: the portal builds bundles with make_bundle(), the
offline verifier checks them with verify_bundle(), trusting only the policy's keys. The
verifier reports as proven only what it recomputed from proven leaves; every other value
of the bundle is listed as not checked, and the verdict is its own, never the bundle's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from anchoring import chain, merkle
from anchoring import timestamp_token as tokens
from anchoring.checkpoint import (
    Checkpoint,
    CheckpointError,
    format_proof,
    open_checkpoint,
    parse_proof,
)
from anchoring.leaf import Kind, Leaf, LeafError, decode
from anchoring.note import MalformedNoteError, NoteError, decode_base64, encode_base64
from anchoring.policy import Policy
from documents import codes, entries
from verification import chain_anchor, trusted_time

FORMAT = "judicial-portal/proof-bundle/v2"
FORMAT_V1 = "judicial-portal/proof-bundle/v1"
READABLE = (FORMAT, FORMAT_V1)  # v1 is read with the same rules; it has no opening
ATTACHMENT_NAME = "proof-bundle.json"  # the bundle's name inside a certificate PDF
MAX_BUNDLE_SIZE = 8 << 20  # a bundle with thousands of service events stays far below
KINDS = {Kind.ANCHOR: "anchor", Kind.RECORD: "record", Kind.SERVICE_EVENT: "service_event"}
EVENT_NAMES = {e.value: e.name.lower() for e in entries.EventType}
CHANNEL_NAMES = {c.value: c.name.lower() for c in entries.Channel}
CATEGORY_NAMES = {c.value: c.name.lower() for c in entries.Category}

# The portal's findings other than "verified", in words; any other value is never verified.
OUTCOMES = {
    "not_found": "the file was not found in the ledger",
    "mismatch": "the file is not identical to the recorded one",
    "inconclusive": "the file could not be checked at the time",
    "conflict": "the portal's own records disagree with the ledger",
}

# How the verifier labels what it did not recompute (docs/formats.md, docs/operations.md).
CLAIM = "not checked: the portal's claim (the verdict below is judicial-verify's own)"
SALTED = (
    "not checked (the ledger commits to them only in a salted digest this bundle does not open)"
)
MASKED = "not checked (masked for display only; never compared)"
ADDRESSEE = "not checked (addressee names: the ledger holds only a salted digest)"
STATEMENT = "not checked: the portal's statement"
UNPINNED = "not checked (no 'tsa-ca' of the policy names this timestamp authority's CA)"
NO_NODE = "not checked (chain anchors are read from a node: give one with --rpc URL)"
UNREAD = "not checked (the node given with --rpc could not be asked)"
OFF_CHAIN = "not checked (the node's chain holds none of them with enough confirmations)"
LABELS = (CLAIM, SALTED, MASKED, ADDRESSEE, UNPINNED, NO_NODE, UNREAD, OFF_CHAIN, STATEMENT)
_TRANSACTION_HASH = re.compile(r"0x[0-9a-fA-F]{64}")

Path = tuple[str | int, ...]


class BundleError(ValueError):
    """Not a usable proof bundle (unreadable, wrong format or version)."""


class ProofFailed(Exception):
    """A check of the bundle did not verify; the message names the step."""


def iso_time(ms: int) -> str:
    """A leaf time (milliseconds since the epoch) as the bundle writes times."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _shown_time(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{ms % 1000:03d} UTC"


def _milliseconds(text: object) -> int | None:
    """An ISO 8601 time with its zone, in whole milliseconds since the epoch (None if not)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def leaf_inputs(data: bytes) -> dict:
    """A leaf's decoded contents, for people to read (the leaf bytes are what count)."""
    leaf = decode(data)
    inputs: dict[str, str | int] = {
        "kind": KINDS[leaf.kind],
        "time": leaf.time.isoformat().replace("+00:00", "Z"),
        "sha256": leaf.sha256.hex(),
        "sm3": leaf.sm3.hex(),
    }
    fields = dict(leaf.fields)
    if leaf.kind == Kind.RECORD:
        inputs["category"] = entries.Category(fields[entries.RECORD_CATEGORY][0]).name.lower()
        inputs["court"] = fields[entries.RECORD_COURT].decode()
        inputs["code"] = fields[entries.RECORD_CODE].decode()
        inputs["metadata_digest"] = fields[entries.RECORD_METADATA].hex()
    elif leaf.kind == Kind.SERVICE_EVENT:
        inputs["event"] = EVENT_NAMES[fields[entries.EVENT_TYPE][0]]
        inputs["court"] = fields[entries.EVENT_COURT].decode()
        inputs["record_code"] = fields[entries.EVENT_RECORD_CODE].decode()
        inputs["record_index"] = int.from_bytes(fields[entries.EVENT_RECORD_INDEX], "big")
    return inputs


def entry_json(index: int, data: bytes, proof: list[bytes], checkpoint: str) -> dict:
    """One ledger entry with its inclusion proof against a signed checkpoint."""
    return {
        "index": index,
        "leaf": encode_base64(data),
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "inputs": leaf_inputs(data),
        "inclusion_proof": format_proof(index, proof, checkpoint),
    }


def opening(metadata: dict, salt: bytes) -> dict:
    """The opening of a record leaf's salted metadata digest: the metadata and its salt."""
    return {"metadata": metadata, "salt": salt.hex()}


def make_bundle(
    *,
    certificate: dict,
    verification: dict,
    file: dict | None,
    record: dict | None,
    log: dict,
    checkpoint: str | None,
    entry: dict | None,
    consistency: dict | None,
    service_events: list[dict],
    timestamps: dict | None = None,
    chain_anchors: dict | None = None,
) -> dict:
    """Assemble a bundle from its parts (entries made with entry_json, timestamps with
    timestamps_json, chain anchors with chain_anchors_json)."""
    return {
        "format": FORMAT,
        "certificate": certificate,
        "verification": verification,
        "file": file,
        "record": record,
        "log": log,
        "checkpoint": checkpoint,
        "entry": entry,
        "consistency": consistency,
        "service_events": service_events,
        "timestamps": timestamps,
        "chain_anchors": chain_anchors,
    }


def timestamps_json(
    note: str, inclusion: list[bytes], consistency: list[bytes], stamps: list[dict]
) -> dict:
    """The trusted-time evidence: the first timestamped checkpoint covering the entry, the
    entry's inclusion in it, its consistency with the bundle's checkpoint, and its RFC 3161
    tokens ({"tsa", "gen_time", "token", "ca"}, base64 DER)."""
    return {
        "checkpoint": note,
        "inclusion": [encode_base64(h) for h in inclusion],
        "consistency": [encode_base64(h) for h in consistency],
        "tokens": stamps,
    }


def chain_anchors_json(
    note: str, inclusion: list[bytes], consistency: list[bytes], anchors: list[dict]
) -> dict:
    """The chain-anchor evidence: the first anchored checkpoint covering the entry, the
    entry's inclusion in it, its consistency with the bundle's checkpoint, and its anchors
    as the ledger recorded them ({"chain_id", "transaction_hash", "block_number",
    "block_hash", "block_time", "confirmations"}); only a node says whether they hold."""
    return {
        "checkpoint": note,
        "inclusion": [encode_base64(h) for h in inclusion],
        "consistency": [encode_base64(h) for h in consistency],
        "anchors": anchors,
    }


def dumps(bundle: dict) -> bytes:
    """The bundle as UTF-8 JSON (keys sorted, so equal bundles are equal bytes)."""
    return (json.dumps(bundle, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode()


def loads(data: bytes) -> dict:
    """Parse a bundle, checking only that it is one of ours in a version we know."""
    if len(data) > MAX_BUNDLE_SIZE:
        raise BundleError(f"larger than {MAX_BUNDLE_SIZE} bytes: not a proof bundle")
    try:
        bundle = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"not JSON ({exc})") from None
    if not isinstance(bundle, dict) or not str(bundle.get("format", "")).startswith(
        "judicial-portal/proof-bundle/"
    ):
        raise BundleError("not a judicial-portal proof bundle (no 'format' field)")
    if bundle["format"] not in READABLE:
        raise BundleError(
            f"bundle format {bundle['format']!r} is not supported (need {' or '.join(READABLE)})"
        )
    return bundle


@dataclass(frozen=True)
class Digests:
    """A file's SHA-256 and SM3, as computed by the verifier itself."""

    sha256: bytes
    sm3: bytes


def path_name(path: Path) -> str:
    """A place in the bundle as people write it: service_events[2].occurred_at."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Report:
    """What the verifier printed as proven, and the places of the bundle it covered."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.checked: set[Path] = set()
        self.labels: dict[Path, str] = {}

    def ok(self, text: str, *paths: Path) -> None:
        self.checked.update(paths)
        self.say(f"ok  {text}")

    def covers(self, *paths: Path) -> None:
        self.checked.update(paths)

    def label(self, path: Path, reason: str) -> None:
        self.labels.setdefault(path, reason)

    def unchecked(self, bundle: dict) -> list[tuple[str, Path, object]]:
        """Every part of the bundle neither checked nor labelled, as the portal's statement."""
        marked = self.checked | set(self.labels)
        found: list[tuple[str, Path, object]] = []

        def walk(node: object, path: Path) -> None:
            if any(path[: len(p)] == p for p in self.checked if len(p) <= len(path)):
                return
            if path in self.labels:
                items = enumerate(node) if isinstance(node, list) and node else [(None, node)]
                for number, item in items:
                    place = path if number is None else (*path, number)
                    found.append((self.labels[path], place, item))
                return
            inside = any(len(p) > len(path) and p[: len(path)] == path for p in marked)
            if path and not inside and not (isinstance(node, list) and node):
                found.append((STATEMENT, path, node))
            elif isinstance(node, dict):
                for key in sorted(node):
                    walk(node[key], (*path, key))
            elif isinstance(node, list):
                for number, item in enumerate(node):
                    walk(item, (*path, number))
            else:
                found.append((STATEMENT, path, node))

        walk(bundle, ())
        return found

    def list_unchecked(self, bundle: dict) -> None:
        found = self.unchecked(bundle)
        for reason in LABELS:
            lines = [(p, v) for r, p, v in found if r == reason and v not in (None, [], {})]
            if not lines:
                continue
            self.say(f"    {reason}:")
            for path, value in lines:
                text = json.dumps(value, ensure_ascii=False, sort_keys=True)
                if len(text) > 160:
                    text = text[:157] + "..."
                self.say(f"      {path_name(path)} = {text}")


def _field(bundle: dict, *path: str):
    value = bundle
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise BundleError(f"the bundle has no {'.'.join(path)}")
        value = value[key]
    return value


def _object(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ProofFailed(f"{what}: not a JSON object")
    return value


def _leaf(entry: dict, what: str) -> tuple[bytes, Leaf]:
    data = decode_base64(entry.get("leaf"))
    if data is None:
        raise ProofFailed(f"{what} leaf: not base64")
    try:
        return data, decode(data)
    except LeafError as exc:
        raise ProofFailed(f"{what} leaf: not a well-formed ledger leaf ({exc})") from None


class _Trust:
    """Opens checkpoints with the policy's log keys and requires its witness quorum."""

    def __init__(self, policy: Policy, origin: str | None, report: _Report) -> None:
        self.policy = policy
        self.origin = origin
        self.report = report
        self.witnessed: set[str] = set()  # checkpoint bodies whose quorum was met

    def open(self, note: object, what: str) -> Checkpoint:
        """A checkpoint signed by a log key of the policy, with the bundle's origin."""
        try:
            if not isinstance(note, (str, bytes)):
                raise MalformedNoteError("note must be str or bytes")
            return open_checkpoint(note, self.policy.logs, origin=self.origin)
        except (NoteError, CheckpointError, TypeError) as exc:
            step = f"{what} checkpoint signature" if what else "checkpoint signature"
            raise ProofFailed(f"{step}: {exc}") from None

    def witness(self, note: str, cp: Checkpoint, what: str) -> None:
        """The policy's witness quorum must cosign the checkpoint (once per tree head)."""
        if self.policy.quorum is None or cp.body() in self.witnessed:
            return
        check = self.policy.quorum_check(note)
        cosigned = ", ".join(check.cosigned) or "none"
        if not check.met:
            raise ProofFailed(
                f"witness quorum ({what}): {check.quorum!r} is not satisfied "
                f"(cosigned by: {cosigned})"
            )
        self.witnessed.add(cp.body())
        self.report.ok(
            f"witness quorum {check.quorum!r} satisfied by {cosigned} (tree size {cp.size})"
        )

    def included(self, entry: dict, data: bytes, what: str, path: Path) -> Checkpoint:
        """Check an entry's tlog-proof: signed, witnessed checkpoint, then the inclusion."""
        try:
            proof = parse_proof(entry.get("inclusion_proof"))
        except merkle.ProofError as exc:
            raise ProofFailed(f"{what} inclusion proof: malformed ({exc})") from None
        index = entry.get("index")
        if isinstance(index, bool) or proof.index != index:
            raise ProofFailed(f"{what} inclusion proof: it is for entry {proof.index}, not {index}")
        cp = self.open(proof.checkpoint, what)
        self.witness(proof.checkpoint, cp, what)
        try:
            merkle.verify_inclusion(
                merkle.leaf_hash(data), proof.index, cp.size, list(proof.hashes), cp.root_hash
            )
        except (merkle.ProofError, ValueError) as exc:
            raise ProofFailed(f"{what} inclusion proof: {exc}") from None
        self.report.covers((*path, "index"), (*path, "leaf"), (*path, "inclusion_proof"))
        return cp


def _derived(entry: dict, data: bytes, what: str, path: Path, report: _Report) -> None:
    """The entry's leaf_hash and inputs must be what its leaf recomputes to."""
    if entry.get("leaf_hash") != merkle.leaf_hash(data).hex():
        raise ProofFailed(f"{what} leaf_hash: it is not the hash of the entry's leaf")
    try:
        inputs = leaf_inputs(data)
    except (KeyError, ValueError, IndexError, UnicodeDecodeError):
        raise ProofFailed(f"{what} leaf: its fields cannot be read") from None
    shown = entry.get("inputs")
    if shown != inputs:
        shown = shown if isinstance(shown, dict) else {}
        wrong = sorted(k for k in inputs.keys() | shown.keys() if shown.get(k) != inputs.get(k))
        raise ProofFailed(f"{what} inputs: {', '.join(wrong)} not what the leaf holds")
    report.covers((*path, "leaf_hash"), (*path, "inputs"))


def _mismatch(step: str, shown: object, proven: object, words: str) -> ProofFailed:
    return ProofFailed(
        f"{step}: the bundle shows {json.dumps(shown, ensure_ascii=False)}, "
        f"the ledger proves {json.dumps(proven, ensure_ascii=False)} ({words})"
    )


def _same(shown: object, proven: object, step: str, words: str) -> None:
    if shown != proven:
        raise _mismatch(step, shown, proven, words)


def _file(bundle: dict, leaf: Leaf, report: _Report) -> bool:
    """The bundle's file digests against the leaf's; True when at least one was given."""
    if bundle.get("file") is None:
        return False
    file = _object(bundle["file"], "file")
    given = []
    for name, value in (("sha256", leaf.sha256), ("sm3", leaf.sm3)):
        digest = file.get(name)
        report.covers(("file", name))
        if digest is None or digest == "":
            continue
        if digest != value.hex():
            raise ProofFailed(f"file {name}: the bundle's is not the one in the ledger entry")
        given.append(name)
    if given:
        names = " and ".join("SHA-256" if n == "sha256" else "SM3" for n in given)
        report.ok(f"file: the bundle's {names} {'are' if len(given) > 1 else 'is'} the leaf's")
    return bool(given)


@dataclass(frozen=True)
class _Record:
    code: str
    court: str
    category: str
    metadata_digest: bytes


def _record_leaf(leaf: Leaf) -> _Record:
    fields = dict(leaf.fields)
    try:
        return _Record(
            fields[entries.RECORD_CODE].decode("ascii"),
            fields[entries.RECORD_COURT].decode("utf-8"),
            CATEGORY_NAMES[fields[entries.RECORD_CATEGORY][0]],
            fields[entries.RECORD_METADATA],
        )
    except (KeyError, IndexError, UnicodeDecodeError):
        raise ProofFailed("entry leaf: not a readable record leaf") from None


def _record(bundle: dict, leaf: Leaf, index: int, report: _Report) -> bool:
    """The bundle's record against the record leaf; True when it names the leaf's record."""
    shown = bundle.get("record")
    if leaf.kind != Kind.RECORD:
        if shown is not None:
            raise ProofFailed(
                f"record: the bundle shows a record, the ledger entry is an {KINDS[leaf.kind]}"
            )
        return False
    proven = _record_leaf(leaf)
    code = codes.display(proven.code)
    record: dict[str, Any] = {"code": proven.code} if shown is None else _object(shown, "record")
    if not isinstance(record.get("code"), str) or record["code"].replace("-", "") != proven.code:
        raise _mismatch("record code", record.get("code"), code, "a different record")
    report.ok(f"record code: {code}", ("record", "code"))
    court = record["court"].get("code") if isinstance(record.get("court"), dict) else None
    if "court" in record:
        _same(court, proven.court, "record court", "a different court")
    report.ok(f"court: {proven.court}", ("record", "court", "code"))
    if "category" in record:
        _same(record["category"], proven.category, "record category", "a different category")
    report.ok(f"category: {proven.category}", ("record", "category"))
    if "recorded_at" in record and _milliseconds(record["recorded_at"]) != leaf.timestamp_ms:
        shown_at = record["recorded_at"]
        raise _mismatch("record recorded_at", shown_at, iso_time(leaf.timestamp_ms), "a time")
    report.ok(f"recorded at: {_shown_time(leaf.timestamp_ms)}", ("record", "recorded_at"))
    for name, value in (("sha256", leaf.sha256.hex()), ("sm3", leaf.sm3.hex())):
        if name in record:
            _same(record[name], value, f"record {name}", "a different file")
            report.covers(("record", name))
    if "ledger_index" in record:
        _same(record["ledger_index"], index, "record ledger_index", "a different entry")
        report.covers(("record", "ledger_index"))
    if shown is None:
        return False
    _metadata(record, proven, report)
    return True


def _metadata(record: dict, proven: _Record, report: _Report) -> None:
    """The opened metadata must recompute the leaf's salted digest; else it is not checked."""
    if "opening" not in record:
        for name in ("title", "case_number", "parties", "media_type", "size"):
            report.label(("record", name), SALTED)
        return
    opened = _object(record["opening"], "record opening")
    metadata = opened.get("metadata")
    try:
        salt = bytes.fromhex(opened["salt"])
    except (KeyError, TypeError, ValueError):
        raise ProofFailed("record metadata: the opening's salt is not hexadecimal") from None
    if not isinstance(metadata, dict) or len(salt) != entries.SALT_SIZE:
        raise ProofFailed("record metadata: the opening is not metadata and a 16-byte salt")
    if entries.salted_digest(salt, metadata) != proven.metadata_digest:
        raise ProofFailed(
            "record metadata: the opened title, case number, parties and file details do not "
            "recompute the ledger entry's salted metadata digest"
        )
    report.ok(
        "record metadata: the opened details recompute the ledger entry's salted digest",
        ("record", "opening"),
    )
    for name, words in (("title", "the title"), ("media_type", "the type"), ("size", "the size")):
        if name in record:
            _same(record[name], metadata.get(name), f"record {name}", f"{words}, opened")
            report.covers(("record", name))
    parties = metadata.get("parties")
    parties = ", ".join(map(str, parties)) if isinstance(parties, list) else str(parties)
    report.ok(f"title: {metadata.get('title') or '(none)'}")
    report.ok(f"case number: {metadata.get('case_number') or '(none)'}")
    report.ok(f"parties: {parties or '(none)'}")
    report.ok(
        f"file details: {metadata.get('filename')}, {metadata.get('media_type')}, "
        f"{metadata.get('size')} bytes"
    )
    for name in ("case_number", "parties"):
        report.label(("record", name), MASKED)


def _events(bundle: dict, leaf: Leaf, index: int, trust: _Trust, report: _Report) -> None:
    """Each listed service event: its leaf, its inclusion, and what the bundle shows of it."""
    events = bundle.get("service_events") or []
    if not isinstance(events, list):
        raise ProofFailed("service events: not a list")
    if events and leaf.kind != Kind.RECORD:
        raise ProofFailed("service events: the ledger entry is not a record's")
    if leaf.kind != Kind.RECORD:
        return
    record = _record_leaf(leaf)
    last = index
    for number, item in enumerate(events):
        path: Path = ("service_events", number)
        what = f"service event {number + 1}"
        event = _object(item, what)
        data, found = _leaf(event, what)
        cp = trust.included(event, data, what, path)
        _derived(event, data, what, path, report)
        fields = dict(found.fields)
        name = EVENT_NAMES.get((fields.get(entries.EVENT_TYPE) or b"\0")[0])
        if found.kind != Kind.SERVICE_EVENT or name is None:
            raise ProofFailed(f"{what} leaf: not a service event")
        points = int.from_bytes(fields.get(entries.EVENT_RECORD_INDEX) or b"\xff" * 9, "big")
        for wrong, words in (
            (points != index, f"it names entry {points}, not the record's entry {index}"),
            (fields.get(entries.EVENT_RECORD_CODE) != record.code.encode(), "another record"),
            (fields.get(entries.EVENT_COURT) != record.court.encode(), "another court"),
            ((found.sha256, found.sm3) != (leaf.sha256, leaf.sm3), "another document"),
        ):
            if wrong:
                raise ProofFailed(f"{what} leaf: it is not an event of this record ({words})")
        if event["index"] <= last:
            raise ProofFailed(f"{what}: listed out of ledger order (entry {event['index']})")
        last = event["index"]
        channel_code = fields.get(entries.EVENT_CHANNEL)
        channel = (
            CHANNEL_NAMES.get(channel_code[0], f"channel {channel_code[0]}")
            if channel_code
            else None
        )
        occurred_field = fields.get(entries.EVENT_OCCURRED_AT)
        occurred = int.from_bytes(occurred_field, "big") if occurred_field else found.timestamp_ms
        if "event" in event:
            _same(event["event"], name, f"{what} event", "another event")
        if "channel" in event:
            _same(event["channel"], channel, f"{what} channel", "another channel")
        if "occurred_at" in event and _milliseconds(event["occurred_at"]) != occurred:
            raise _mismatch(
                f"{what} occurred_at", event["occurred_at"], iso_time(occurred), "a time"
            )
        report.label((*path, "addressee"), ADDRESSEE)
        via = f" via {channel}" if channel else ""
        report.ok(
            f"service event at ledger entry {event['index']}: {name}{via}, occurred "
            f"{_shown_time(occurred)}, recorded {_shown_time(found.timestamp_ms)}; it names the "
            f"record's entry {index} and carries the document's digests (tree size {cp.size})",
            (*path, "event"),
            (*path, "channel"),
            (*path, "occurred_at"),
        )
    if events or record.category == entries.Category.LITIGATION_DOCUMENT.name.lower():
        report.say(
            f"    the timeline proves the {len(events)} service event(s) listed, not that no "
            "other exists: a bundle carries no proof of completeness"
        )


def _consistency(bundle: dict, cp: Checkpoint, trust: _Trust, report: _Report) -> None:
    consistency = bundle.get("consistency")
    if not consistency:
        return
    consistency = _object(consistency, "consistency")
    old = trust.open(consistency.get("checkpoint"), "consistency: the older")
    proof = consistency.get("proof")
    hashes: list[bytes] = []
    for text in proof if isinstance(proof, list) else [None]:
        raw = decode_base64(text)
        if raw is None:
            raise ProofFailed("consistency proof: a hash is not base64")
        hashes.append(raw)
    try:
        merkle.verify_consistency(old.size, cp.size, old.root_hash, cp.root_hash, hashes)
    except (merkle.ProofError, ValueError) as exc:
        raise ProofFailed(f"consistency proof: {exc}") from None
    report.ok(
        f"consistency: the log grew from {old.size} to {cp.size} without rewriting history",
        ("consistency",),
    )


def _hash_list(value: object, what: str) -> list[bytes]:
    hashes = []
    for text in value if isinstance(value, list) else [None]:
        raw = decode_base64(text)
        if raw is None:
            raise ProofFailed(f"{what}: a hash is not base64")
        hashes.append(raw)
    return hashes


def _b64(value: object, what: str) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except (binascii.Error, ValueError):
        raise ProofFailed(f"timestamp: {what} is not base64") from None


def _covered(
    key: str, step: str, evidence: dict, index: int, data: bytes, cp: Checkpoint, report
) -> Checkpoint:
    """The evidence's checkpoint (timestamped or anchored), proven to cover entry `index` in
    cp's history: its signature, the entry's inclusion, the consistency proof to cp."""
    note = evidence.get("checkpoint")
    covering = trusted_time.Covering(
        note if isinstance(note, str) else "",
        _hash_list(evidence.get("inclusion"), f"{step} inclusion proof"),
        _hash_list(evidence.get("consistency"), f"{step} consistency proof"),
        [],
    )
    try:
        covered = trusted_time.covering_checkpoint(covering.note, index, data, cp, covering)
    except trusted_time.TimeFailed as exc:
        words = str(exc) if key == "timestamps" else str(exc).replace("covering", "anchored")
        raise ProofFailed(f"{step}: {words}") from None
    report.covers((key, "checkpoint"), (key, "inclusion"), (key, "consistency"))
    return covered


def _timestamps(
    bundle: dict, data: bytes, index: int, cp: Checkpoint, policy: Policy, report: _Report
) -> None:
    """Trusted time: the covering checkpoint proven in cp's history, each token verified
    against the policy's tsa-ca lines, each token's stated authority and time its own."""
    evidence = bundle.get("timestamps")
    if evidence is None:
        report.covers(("timestamps",))
        report.say("    trusted time: none in the bundle (times are the court's own clock)")
        return
    evidence = _object(evidence, "timestamp")
    items = evidence.get("tokens")
    if not isinstance(items, list) or not items:
        raise ProofFailed("timestamp: the evidence holds no token")
    covered = _covered("timestamps", "timestamp", evidence, index, data, cp, report)
    body = covered.body().encode()
    earliest = None
    for number, item in enumerate(items):
        item = _object(item, f"timestamp token {number}")
        token, ca = _b64(item.get("token"), "a token"), _b64(item.get("ca"), "a CA")
        try:
            stamp = tokens.check(token, body, policy.tsa_cas, [ca])
        except tokens.UnpinnedError:
            report.label(("timestamps", "tokens", number), UNPINNED)
            continue
        except tokens.TokenError as exc:
            raise ProofFailed(f"timestamp: token {number} does not verify ({exc})") from None
        if item.get("gen_time") != stamp.gen_time.isoformat().replace("+00:00", "Z"):
            raise ProofFailed(f"timestamp: token {number}'s time is not the one it signs")
        if item.get("tsa") != stamp.tsa:
            raise ProofFailed(f"timestamp: token {number}'s authority is not the one it names")
        report.ok(
            f"timestamp token {number}: {stamp.tsa} signed checkpoint {covered.size} at "
            f"{trusted_time.shown(stamp.gen_time)}",
            ("timestamps", "tokens", number),
        )
        if earliest is None or stamp.gen_time < earliest.gen_time:
            earliest = stamp
    if earliest is None:
        report.say("    trusted time: not checked (the policy pins none of its authorities)")
        return
    dev = (
        " (DEVELOPMENT timestamp authority: not trusted time)"
        if trusted_time.DEV_MARK in earliest.tsa
        else ""
    )
    report.ok(
        f"trusted time: entry {index} was on the ledger no later than "
        f"{trusted_time.shown(earliest.gen_time)} ({earliest.tsa}{dev}; checkpoint "
        f"{covered.size})"
    )


@dataclass(frozen=True)
class ChainCheck:
    """The node `judicial-verify --rpc` reads chain anchors from, and how many blocks deep
    an anchor's transaction must be to count."""

    node: chain.Node
    confirmations: int


def _chain_anchors(
    bundle: dict, data: bytes, index: int, cp: Checkpoint, check: ChainCheck | None, report
) -> None:
    """Chain anchors: the anchored checkpoint proven in cp's history offline; each anchor's
    transaction read from the user's node, never taken from the bundle."""
    evidence = bundle.get("chain_anchors")
    if evidence is None:
        report.covers(("chain_anchors",))
        report.say("    chain anchor: none in the bundle")
        return
    evidence = _object(evidence, "chain anchor")
    items = evidence.get("anchors")
    if not isinstance(items, list) or not items:
        raise ProofFailed("chain anchor: the evidence holds no anchor")
    pairs = []
    for number, item in enumerate(items):
        item = _object(item, f"chain anchor {number}")
        chain_id, transaction = item.get("chain_id"), item.get("transaction_hash")
        if (
            type(chain_id) is not int
            or not isinstance(transaction, str)
            or not _TRANSACTION_HASH.fullmatch(transaction)
        ):
            raise ProofFailed(f"chain anchor: anchor {number} names no chain and transaction")
        pairs.append((chain_id, transaction.lower()))
    anchored = _covered("chain_anchors", "chain anchor", evidence, index, data, cp, report)
    if check is None:
        report.label(("chain_anchors", "anchors"), NO_NODE)
        report.say(
            f"    chain anchor: checkpoint {anchored.size} is in this history; its anchors "
            "are not checked (no --rpc given)"
        )
        return
    try:
        served = check.node.chain_id()
        tx = chain_anchor.on_chain(anchored, pairs, check.node, served, check.confirmations)
    except chain_anchor.AnchorFailed as exc:
        raise ProofFailed(f"chain anchor: {exc}") from None
    except chain.NodeUnavailable as exc:
        report.label(("chain_anchors", "anchors"), UNREAD)
        report.say(f"    chain anchor: could not check ({exc})")
        return
    if tx is None:
        report.label(("chain_anchors", "anchors"), OFF_CHAIN)
        report.say(
            f"    chain anchor: could not check (no anchor on chain "
            f"{served} with {check.confirmations} confirmations)"
        )
        return
    number = pairs.index((tx.chain_id, tx.transaction_hash.lower()))
    report.ok(
        f"chain anchor: checkpoint {anchored.size} is anchored in block {tx.block_number} of "
        f"chain {tx.chain_id} at {trusted_time.shown(tx.block_time) if tx.block_time else '?'} "
        f"(transaction {tx.transaction_hash}, {tx.confirmations} confirmations, read from "
        f"{check.node.url})",
        ("chain_anchors", "anchors", number, "chain_id"),
        ("chain_anchors", "anchors", number, "transaction_hash"),
    )


def verify_bundle(
    bundle: dict,
    policy: Policy,
    say: Callable[[str], None],
    original: Digests | None = None,
    chain_check: ChainCheck | None = None,
) -> str:
    """Verify a bundle with the policy's keys and derive the verdict; return what it proves.

    Prints what it recomputed ("ok  ...") and lists every other part of the bundle as not
    checked. Raises ProofFailed naming the first step that does not verify, or "outcome"
    when the portal's finding is not "verified" or the proofs do not establish it;
    BundleError when the bundle is not usable.
    """
    report = _Report(say)
    claimed = _field(bundle, "verification", "outcome")
    origin = _field(bundle, "log", "origin")
    report.covers(("format",), ("log", "origin"))
    report.label(("verification", "outcome"), CLAIM)
    report.label(("verification", "steps"), CLAIM)
    trust = _Trust(policy, origin, report)
    entry = bundle.get("entry")
    proven = None
    if entry is None:
        if bundle.get("checkpoint"):
            cp = trust.open(bundle["checkpoint"], "")
            trust.witness(bundle["checkpoint"], cp, "checkpoint")
            report.ok(
                f"checkpoint of {origin!r} at size {cp.size} signed by a trusted log key",
                ("checkpoint",),
            )
        say("    the bundle holds no ledger entry: it proves no file and no record")
        if original is not None:
            file = bundle.get("file")
            if not isinstance(file, dict):
                file = {}
            if file.get("sha256") and file["sha256"] != original.sha256.hex():
                raise ProofFailed(
                    "original file: it is not the file the bundle is about "
                    f"(SHA-256 {original.sha256.hex()})"
                )
    else:
        entry = _object(entry, "entry")
        data, leaf = _leaf(entry, "entry")
        note = _proof_note(entry)
        cp = trust.open(note, "entry")
        report.ok(f"checkpoint of {origin!r} at size {cp.size} signed by a trusted log key")
        say(f"    root {cp.root_hash.hex()}")
        if policy.quorum is None:
            report.ok("witnesses: the policy requires none")
        trust.witness(note, cp, "entry")
        trust.included(entry, data, "entry", ("entry",))
        report.ok(f"entry {entry['index']} is included in the tree of size {cp.size}")
        if bundle.get("checkpoint") is not None:
            top = trust.open(bundle["checkpoint"], "")
            if top.body() != cp.body():
                raise ProofFailed("checkpoint: it is not the one the entry's proof is against")
            report.covers(("checkpoint",))
        _derived(entry, data, "entry", ("entry",), report)
        report.ok(
            f"leaf: a {KINDS[leaf.kind]} entry recorded {_shown_time(leaf.timestamp_ms)} "
            f"for SHA-256 {leaf.sha256.hex()} and SM3 {leaf.sm3.hex()}"
        )
        by_file = _file(bundle, leaf, report)
        by_record = _record(bundle, leaf, entry["index"], report)
        _consistency(bundle, cp, trust, report)
        _timestamps(bundle, data, entry["index"], cp, policy, report)
        _chain_anchors(bundle, data, entry["index"], cp, chain_check, report)
        _events(bundle, leaf, entry["index"], trust, report)
        if original is not None:
            _same_file(original, leaf.sha256, leaf.sm3, "the ledger entry")
            report.ok("original file: its SHA-256 and SM3 are the ones the ledger entry records")
        code = codes.display(_record_leaf(leaf).code) if by_record else None
        if by_file or original is not None:
            proven = f"the file with SHA-256 {leaf.sha256.hex()} is ledger entry {entry['index']}"
            proven += f", record {code}" if code else ""
        elif code:
            proven = (
                f"record {code} is ledger entry {entry['index']}, recording the file with "
                f"SHA-256 {leaf.sha256.hex()}"
            )
    report.list_unchecked(bundle)
    if claimed != "verified":
        words = (
            OUTCOMES.get(claimed, "an outcome this verifier does not know")
            if isinstance(claimed, str)
            else "not an outcome"
        )
        raise ProofFailed(f"outcome: the portal's finding is {claimed!r} ({words}), not verified")
    if proven is None:
        raise ProofFailed(
            "outcome: the portal claims 'verified', but the bundle's proofs do not establish "
            "it (no ledger entry, or no file digests or record that the entry proves)"
        )
    report.ok(f"proven: {proven}")
    return proven


def _proof_note(entry: dict) -> str:
    try:
        return parse_proof(entry.get("inclusion_proof")).checkpoint
    except merkle.ProofError as exc:
        raise ProofFailed(f"entry inclusion proof: malformed ({exc})") from None


def _same_file(original: Digests, sha256: bytes, sm3: bytes | None, against: str) -> None:
    if original.sha256 != sha256 or (sm3 is not None and original.sm3 != sm3):
        raise ProofFailed(
            f"original file: its SHA-256 {original.sha256.hex()} is not the one in {against} "
            f"({sha256.hex()}); the file is not identical"
        )
