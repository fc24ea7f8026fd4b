"""The proof bundle: everything needed to re-check a verification with no network.

One versioned JSON document (schema in docs/formats.md): the ledger entry and its
decoded inputs, its inclusion proof in C2SP tlog-proof form (which carries the signed
checkpoint), the consistency proof from the checkpoint the portal trusted before, and
each service event's entry and proof. It is attached inside the certificate PDF and
downloadable on its own.

Plain Python with no Django import: the portal builds bundles with make_bundle(), the
offline verifier checks them with verify_bundle(), trusting only the policy's keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from anchoring import merkle
from anchoring.checkpoint import (
    CheckpointError,
    ProofError,
    format_proof,
    open_checkpoint,
    parse_proof,
)
from anchoring.leaf import Kind, LeafError, decode
from anchoring.note import NoteError
from documents import entries
from verification.policy import Policy

FORMAT = "judicial-portal/proof-bundle/v1"
ATTACHMENT_NAME = "proof-bundle.json"  # the bundle's name inside a certificate PDF
MAX_BUNDLE_SIZE = 8 << 20  # a bundle with thousands of service events stays far below
KINDS = {Kind.ANCHOR: "anchor", Kind.RECORD: "record", Kind.SERVICE_EVENT: "service_event"}
EVENT_NAMES = {e.value: e.name.lower() for e in entries.EventType}


class BundleError(ValueError):
    """Not a usable proof bundle (unreadable, wrong format or version)."""


class ProofFailed(Exception):
    """A check of the bundle did not verify; the message names the step."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def leaf_inputs(data: bytes) -> dict:
    """A leaf's decoded contents, for people to read (the leaf bytes are what count)."""
    leaf = decode(data)
    inputs = {
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
        "leaf": _b64(data),
        "leaf_hash": merkle.leaf_hash(data).hex(),
        "inputs": leaf_inputs(data),
        "inclusion_proof": format_proof(index, proof, checkpoint),
    }


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
) -> dict:
    """Assemble a bundle from its parts (entries made with entry_json)."""
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
    if bundle["format"] != FORMAT:
        raise BundleError(f"bundle format {bundle['format']!r} is not supported (need {FORMAT})")
    return bundle


@dataclass(frozen=True)
class Digests:
    """A file's SHA-256 and SM3, as computed by the verifier itself."""

    sha256: bytes
    sm3: bytes


def _field(bundle: dict, *path: str):
    value = bundle
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise BundleError(f"the bundle has no {'.'.join(path)}")
        value = value[key]
    return value


def _hex(value, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise BundleError(f"{what} is not hexadecimal") from None
    if len(raw) != 32:
        raise BundleError(f"{what} is not 32 bytes")
    return raw


def _leaf(entry: dict, what: str) -> tuple[bytes, object]:
    try:
        data = base64.b64decode(_field(entry, "leaf"), validate=True)
    except (binascii.Error, TypeError):
        raise BundleError(f"{what}: the leaf is not base64") from None
    try:
        return data, decode(data)
    except LeafError as exc:
        raise ProofFailed(f"{what} leaf: not a well-formed ledger leaf ({exc})") from None


def _included(entry: dict, data: bytes, verifiers, origin, what: str, say) -> object:
    """Check an entry's tlog-proof: signed checkpoint, then inclusion of the leaf."""
    try:
        proof = parse_proof(_field(entry, "inclusion_proof"))
    except ProofError as exc:
        raise ProofFailed(f"{what} inclusion proof: malformed ({exc})") from None
    if proof.index != entry.get("index"):
        raise ProofFailed(
            f"{what} inclusion proof: it is for entry {proof.index}, not {entry.get('index')}"
        )
    try:
        cp = open_checkpoint(proof.checkpoint, verifiers, origin=origin)
    except (NoteError, CheckpointError) as exc:
        raise ProofFailed(f"{what} checkpoint signature: {exc}") from None
    try:
        merkle.verify_inclusion(
            merkle.leaf_hash(data), proof.index, cp.size, list(proof.hashes), cp.root_hash
        )
    except (merkle.ProofError, ValueError) as exc:
        raise ProofFailed(f"{what} inclusion proof: {exc}") from None
    return cp, proof.checkpoint


def _witnesses(note: str, policy: Policy, say: Callable[[str], None]) -> None:
    if policy.quorum is None:
        say("ok  witnesses: the policy requires none")
        return
    cosigned = policy.cosigners(note)
    if not policy.satisfied(policy.quorum, cosigned):
        raise ProofFailed(
            f"witness quorum: {policy.quorum!r} is not satisfied "
            f"(cosigned by: {', '.join(sorted(cosigned)) or 'none'})"
        )
    say(f"ok  witness quorum {policy.quorum!r} satisfied by {', '.join(sorted(cosigned))}")


def verify_bundle(
    bundle: dict,
    policy: Policy,
    say: Callable[[str], None],
    original: Digests | None = None,
) -> str:
    """Verify every proof in a bundle with the policy's keys; return the recorded outcome.

    Raises ProofFailed naming the first step that does not verify, BundleError when the
    bundle is not usable. The outcome returned is the certificate's ("verified",
    "not_found", ...): the proofs only show that what the bundle claims is genuine.
    """
    outcome = _field(bundle, "verification", "outcome")
    origin = _field(bundle, "log", "origin")
    entry = bundle.get("entry")
    recorded = bundle.get("file") or {}
    if entry is None:
        if bundle.get("checkpoint"):
            try:
                cp = open_checkpoint(bundle["checkpoint"], policy.logs, origin=origin)
            except (NoteError, CheckpointError) as exc:
                raise ProofFailed(f"checkpoint signature: {exc}") from None
            say(f"ok  checkpoint of {origin!r} at size {cp.size} signed by a trusted log key")
        say(f"    the bundle holds no ledger entry: the portal's finding was {outcome!r}")
        if original is not None and recorded.get("sha256"):
            _same_file(original, _hex(recorded["sha256"], "file.sha256"), None, "file")
        return outcome

    data, leaf = _leaf(entry, "entry")
    cp, note = _included(entry, data, policy.logs, origin, "entry", say)
    say(f"ok  checkpoint of {origin!r} at size {cp.size} signed by a trusted log key")
    say(f"    root {cp.root_hash.hex()}")
    _witnesses(note, policy, say)
    say(f"ok  entry {entry['index']} is included in the tree of size {cp.size}")
    for name, value in (("sha256", leaf.sha256), ("sm3", leaf.sm3)):
        if recorded.get(name) and recorded[name] != value.hex():
            raise ProofFailed(f"leaf: the file's {name} in the bundle is not the one in the ledger")
    record = bundle.get("record")
    if leaf.kind == Kind.RECORD:
        fields = dict(leaf.fields)
        code = fields[entries.RECORD_CODE].decode()
        if record is None or record.get("code", "").replace("-", "") != code:
            raise ProofFailed("leaf: the record code in the ledger is not the bundle's record")
        if record.get("court", {}).get("code") != fields[entries.RECORD_COURT].decode():
            raise ProofFailed("leaf: the court in the ledger is not the bundle's record's court")
    say(
        f"ok  leaf: the ledger entry records SHA-256 {leaf.sha256.hex()} "
        f"and SM3 {leaf.sm3.hex()} ({KINDS[leaf.kind]}, {leaf.time:%Y-%m-%d %H:%M:%S} UTC)"
    )

    consistency = bundle.get("consistency")
    if consistency:
        try:
            old = open_checkpoint(_field(consistency, "checkpoint"), policy.logs, origin=origin)
            hashes = [base64.b64decode(h, validate=True) for h in _field(consistency, "proof")]
        except (NoteError, CheckpointError) as exc:
            raise ProofFailed(f"consistency: the older checkpoint's signature: {exc}") from None
        except (binascii.Error, TypeError):
            raise BundleError("consistency.proof holds something that is not base64") from None
        try:
            merkle.verify_consistency(old.size, cp.size, old.root_hash, cp.root_hash, hashes)
        except (merkle.ProofError, ValueError) as exc:
            raise ProofFailed(f"consistency proof: {exc}") from None
        say(f"ok  consistency: the log grew from {old.size} to {cp.size} without rewriting history")

    for number, event in enumerate(bundle.get("service_events") or [], 1):
        what = f"service event {number} ({event.get('event', '?')})"
        event_data, event_leaf = _leaf(event, what)
        fields = dict(event_leaf.fields)
        if (
            event_leaf.kind != Kind.SERVICE_EVENT
            or EVENT_NAMES.get(fields.get(entries.EVENT_TYPE, b"\0")[0]) != event.get("event")
            or fields.get(entries.EVENT_RECORD_INDEX) != entry["index"].to_bytes(8, "big")
            or (event_leaf.sha256, event_leaf.sm3) != (leaf.sha256, leaf.sm3)
        ):
            raise ProofFailed(f"{what} leaf: it is not this event of this record")
        _included(event, event_data, policy.logs, origin, what, say)
        say(f"ok  {what}: ledger entry {event['index']} is proven")

    if original is not None:
        _same_file(original, leaf.sha256, leaf.sm3, "the ledger entry")
    return outcome


def _same_file(original: Digests, sha256: bytes, sm3: bytes | None, against: str) -> None:
    if original.sha256 != sha256 or (sm3 is not None and original.sm3 != sm3):
        raise ProofFailed(
            f"original file: its SHA-256 {original.sha256.hex()} is not the one in {against} "
            f"({sha256.hex()}); the file is not identical"
        )
