"""Certificates: the signed PDF and proof bundle issued for a finished verification.

issue() gathers the proofs again through the LedgerBackend (the same ones the
verification checked: its entry, its checkpoint, the consistency proof from the
checkpoint trusted before, each service event), writes them into a proof bundle,
lays the certificate out with ReportLab (certificate_pdf), attaches the bundle, signs the
PDF with the portal's key (PAdES) and keeps both. Safe to run twice: a verification has
one certificate.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import functools
import json
import threading
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import dateformat, timezone

from anchoring.backend import LedgerBackend, get_backend
from anchoring.checkpoint import parse_checkpoint
from anchoring.note import encode_base64, parse_note, verifier_key
from documents import codes, ledger, qr, stamping
from documents.models import Record
from plumbing import cpu_bound
from verification import bundle as bundles
from verification import certificate_pdf, metrics, pades, signing, trust, trusted_time
from verification.models import Certificate, Verification, VerificationStep
from verification.record_check import alarm, check_record, ledger_agrees, public_face


def url(number: str) -> str:
    """The online certificate page printed in the certificate's QR code."""
    return f"{settings.PUBLIC_BASE_URL}/c/{codes.display(number)}"


def _plain(value):
    """Dates and other Django values as JSON would write them."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _record_json(v: Verification, public: dict | None) -> dict | None:
    """The record's public face without its timeline (service_events carry it), and the
    opening of its salted metadata digest when the verification proved possession of the
    file: the holder then has the document, which shows these details anyway."""
    if v.record is None or public is None:
        return None
    public = {k: value for k, value in public.items() if k not in ("download", "timeline")}
    if (v.sha256 or v.sm3) and v.outcome == Verification.Outcome.VERIFIED:
        public["opening"] = bundles.opening(
            _plain(ledger.metadata(v.record)), bytes(v.record.metadata_salt)
        )
    return public


def _face(v: Verification, record: Record, backend: LedgerBackend) -> dict:
    """The record as the ledger proves it now (record_check.public_face). A record whose
    rows disagree with the ledger by now is never certified as verified: the outcome
    certified is the one shown now (Verification.outcome_now, on this instance only), and
    the operator is alerted."""
    check = check_record(record, backend)
    disagrees = not check.agrees and not check.pooled
    if disagrees:
        alarm(check)
    v.outcome = v.outcome_now(False if disagrees else None)
    v.record_face = public_face(check)
    return v.record_face


def _timestamps(v: Verification, steps: list[VerificationStep], backend: LedgerBackend):
    """The trusted-time evidence the `timestamp` step passed on, or None (pending, failed,
    or a verification made before there were timestamps)."""
    step = next((s for s in steps if s.name == "timestamp" and s.status == "passed"), None)
    covering = step.detail.get("size") if step else None
    size, index = v.tree_size, v.ledger_index
    if not isinstance(covering, int) or not size or index is None or covering > size:
        return None
    evidence = _covering_proofs(index, covering, size, backend)
    if evidence is None:
        return None
    stamps = [
        {
            "tsa": t.tsa,
            "gen_time": t.gen_time.replace("+00:00", "Z"),
            "token": base64.b64encode(t.token).decode(),
            "ca": base64.b64encode(t.ca).decode(),
        }
        for t in backend.timestamps(covering)
    ]
    return bundles.timestamps_json(*evidence, stamps)


def _chain_anchors(v: Verification, backend: LedgerBackend):
    """The chain-anchor evidence: the first anchored checkpoint covering the entry, within
    the verification's tree, with its anchors as the ledger recorded them; None if none.
    The anchors go in whether or not the portal could read them back: judicial-verify
    --rpc reads them from the user's own node."""
    size, index = v.tree_size, v.ledger_index
    if not size or index is None:
        return None
    got = backend.covering_chain_anchors(index)
    if got is None or got[0] > size or not got[1]:
        return None
    covering, anchors = got
    evidence = _covering_proofs(index, covering, size, backend)
    if evidence is None:
        return None
    return bundles.chain_anchors_json(*evidence, [dataclasses.asdict(a) for a in anchors])


def _covering_proofs(
    index: int, covering: int, size: int, backend: LedgerBackend
) -> tuple[str, list[bytes], list[bytes]] | None:
    """The covering checkpoint's note, entry `index`'s inclusion in it and its consistency
    with the verification's tree of `size`; None when the ledger holds no such checkpoint."""
    note = backend.checkpoint(covering)
    if note is None:
        return None
    return (
        note,
        backend.inclusion_proof(index, covering),
        backend.consistency_proof(covering, size) if covering < size else [],
    )


@metrics.certificate_phase("bundle")
def build_bundle(
    v: Verification, steps: list[VerificationStep], number: str, backend: LedgerBackend
) -> dict:
    """The proof bundle of a finished verification; raises BackendUnavailable."""
    pinned = trust.pinned()
    verifier = pinned.log if pinned else None
    if v.record is not None:
        public = _plain(_face(v, v.record, backend))
    else:  # a file with no record row: certified verified only while its entry holds it
        public = None
        v.outcome = v.outcome_now(ledger_agrees(v, None))
    timeline = [e for e in (public or {}).get("timeline") or [] if isinstance(e, dict)]
    checkpoint = entry = consistency = None
    events = []
    size = v.tree_size
    if size:
        checkpoint = backend.checkpoint(size)
    if size and v.ledger_index is not None and checkpoint:
        data = backend.entry(v.ledger_index).leaf
        proof = backend.inclusion_proof(v.ledger_index, size)
        entry = bundles.entry_json(v.ledger_index, data, proof, checkpoint)
        old = next((s.detail.get("from") for s in steps if s.name == "consistency"), None)
        if old and old < size and (old_note := backend.checkpoint(old)):
            consistency = {
                "checkpoint": old_note,
                "proof": [encode_base64(h) for h in backend.consistency_proof(old, size)],
            }
        seen: set[int] = set()
        for event in sorted(timeline, key=lambda e: e.get("ledger_index") or 0):
            index = event.get("ledger_index")
            if not isinstance(index, int) or not v.ledger_index < index < size or index in seen:
                continue
            seen.add(index)
            event_data = backend.entry(index).leaf
            event_proof = backend.inclusion_proof(index, size)
            events.append(
                {
                    "event": event.get("event"),
                    "channel": event.get("channel"),
                    "addressee": event.get("addressee"),
                    "occurred_at": event.get("occurred_at"),
                    **bundles.entry_json(index, event_data, event_proof, checkpoint),
                }
            )
    origin = parse_checkpoint(parse_note(checkpoint).text).origin if checkpoint else None
    timestamps = _timestamps(v, steps, backend) if entry else None
    chain_anchors = _chain_anchors(v, backend) if entry else None
    return bundles.make_bundle(
        certificate={
            "number": codes.display(number),
            "url": url(number),
            "issued_at": _plain(timezone.now()),
        },
        verification={
            "id": v.id,
            "outcome": v.outcome,
            "source": v.source,
            "finished_at": _plain(v.finished_at),
            "steps": [
                {"name": s.name, "status": s.status, "zh": s.explanation_zh, "en": s.explanation_en}
                for s in steps
            ],
        },
        file={"name": v.filename, "size": v.size, "sha256": v.sha256, "sm3": v.sm3}
        if v.sha256 or v.sm3
        else None,
        record=_record_json(v, public),
        log={
            "origin": origin or settings.LEDGER_ORIGIN,
            "vkey": verifier_key(verifier) if verifier else None,
        },
        checkpoint=checkpoint,
        entry=entry,
        consistency=consistency,
        service_events=events,
        timestamps=timestamps,
        chain_anchors=chain_anchors,
    )


def render(
    v: Verification, steps: list[VerificationStep], bundle: dict, number: str, development: bool
) -> bytes:
    """The certificate PDF (A4, Chinese first, CJK font embedded), the bundle attached."""
    return draw(facts(v, steps, bundle, number, development))


@metrics.certificate_phase("render")
def draw(printed: certificate_pdf.Facts) -> bytes:
    """The PDF of the facts, the bundle they carry attached; pure computation."""
    return pades.attach(
        certificate_pdf.render(printed, fonts()),
        printed.bundle_name,
        printed.bundle,
        "Proof bundle: re-check offline with judicial-verify",
        "application/json",
    )


def _time(value, pattern: str = "Y-m-d H:i:s T") -> str:
    """A time as the pages show it, in the portal's time zone."""
    return dateformat.format(timezone.localtime(value), pattern) if value else ""


def _printed_face(face: dict) -> certificate_pdf.RecordFace:
    court = face.get("court") or {}
    return certificate_pdf.RecordFace(
        code=face["code"],
        court_zh=court.get("name_zh") or "",
        court_en=court.get("name_en") or "",
        category_label=str(face.get("category_label") or ""),
        title=face.get("title"),
        case_number=face.get("case_number"),
        parties=None if "parties" in face.get("unchecked", []) else list(face.get("parties") or []),
        recorded_at=_time(face.get("recorded_at")),
        timeline=[
            certificate_pdf.Event(
                occurred_at=_time(e.get("occurred_at"), "Y-m-d H:i"),
                label=str(e.get("label") or ""),
                channel_label=e.get("channel_label"),
                addressee=e.get("addressee"),
                proven=bool(e.get("proven")),
                ledger_index=e.get("ledger_index"),
            )
            for e in face.get("timeline") or []
        ],
    )


def facts(
    v: Verification, steps: list[VerificationStep], bundle: dict, number: str, development: bool
) -> certificate_pdf.Facts:
    """What the certificate shows: the verification, its steps, the record's face as the
    ledger proved it (v.record_face, set by build_bundle) and the bundle's proof summary."""
    checkpoint = (
        parse_checkpoint(parse_note(bundle["checkpoint"]).text) if bundle["checkpoint"] else None
    )
    inputs = (bundle["entry"] or {}).get("inputs", {})
    face = v.record_face if v.record else None
    return certificate_pdf.Facts(
        number=codes.display(number),
        url=url(number),
        qr=qr.modules(url(number), settings.QR_ERROR_CORRECTION),
        development=development,
        outcome=v.outcome,
        by_code=bool(v.code),
        verification_id=v.id,
        finished_at=_time(v.finished_at),
        steps=[
            certificate_pdf.Step(
                s.status, s.get_status_display(), s.explanation_zh, s.explanation_en
            )
            for s in steps
        ],
        filename=v.filename,
        size=v.size,
        # A record code alone has no file digests of its own: show the recorded ones.
        sha256=v.sha256 or inputs.get("sha256", ""),
        sm3=v.sm3 or inputs.get("sm3", ""),
        record=_printed_face(face) if face else None,
        entry_index=(bundle["entry"] or {}).get("index"),
        origin=bundle["log"]["origin"],
        tree_size=checkpoint.size if checkpoint else None,
        root_hash=checkpoint.root_hash.hex() if checkpoint else None,
        log_key_id=_key_id(bundle["log"]["vkey"]),
        consistency=bool(bundle["consistency"]),
        service_events=bool(bundle["service_events"]),
        ca_fingerprints=signing.identity().ca_fingerprints,
        bundle=bundles.dumps(bundle),
        bundle_name=bundles.ATTACHMENT_NAME,
        recorded_no_later=_recorded_no_later(steps),
        anchored=_anchored(steps),
    )


def _recorded_no_later(steps: list[VerificationStep]) -> tuple[str, str, bool] | None:
    """What the certificate shows as trusted time: the passed `timestamp` step's."""
    step = next((s for s in steps if s.name == "timestamp" and s.status == "passed"), None)
    if step is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(step.detail["gen_time"].replace("Z", "+00:00"))
    except (KeyError, AttributeError, ValueError):
        return None
    tsa = str(step.detail.get("tsa", ""))
    return trusted_time.shown(moment), tsa, bool(step.detail.get("development"))


def _anchored(steps: list[VerificationStep]) -> certificate_pdf.Anchored | None:
    """What the certificate shows of the chain anchor: the passed `chain_anchor` step's."""
    step = next((s for s in steps if s.name == "chain_anchor" and s.status == "passed"), None)
    if step is None:
        return None
    detail = step.detail
    try:
        moment = datetime.datetime.fromisoformat(str(detail["block_time"]).replace("Z", "+00:00"))
        return certificate_pdf.Anchored(
            chain_id=int(detail["chain_id"]),
            block_number=int(detail["block_number"]),
            when=trusted_time.shown(moment),
            transaction_hash=str(detail["transaction_hash"]),
            development=bool(detail.get("development")),
        )
    except (KeyError, TypeError, ValueError):
        return None


@functools.cache
def fonts() -> certificate_pdf.Fonts:
    """The certificate's fonts: the common-character subset, and rarer characters from the
    full font, each set cut when first needed."""
    return certificate_pdf.Fonts(common=_common_subset(), fallback=_rare)


def _rare(chars: str) -> Path:
    """A TrueType font of the full certificate font's glyphs for `chars` (cached on disk)."""
    cut = stamping.subset_font(
        Path(settings.CERTIFICATE_FONT_FILE),
        settings.CERTIFICATE_FONT_FAMILY,
        chars,
        settings.FONT_CACHE_DIR,
    )
    return certificate_pdf.truetype(cut, name=f"CertificateRare-{cut.stem.rsplit('-', 1)[-1]}")


def _common_subset() -> Path:
    """The certificate font cut down to GB 2312 (6,763 hanzi, punctuation) and ASCII, as
    TrueType: made once per deployment (some 20 s) and kept under FONT_CACHE_DIR. ReportLab
    then embeds the glyphs each certificate uses."""
    chars = []
    for row in [*range(0xA1, 0xAA), *range(0xB0, 0xF8)]:
        for cell in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.append(bytes([row, cell]).decode("gb2312"))
    return certificate_pdf.truetype(
        stamping.subset_font(
            Path(settings.CERTIFICATE_FONT_FILE),
            settings.CERTIFICATE_FONT_FAMILY,
            "".join(chars) + "“”‘’—…·•",
            settings.FONT_CACHE_DIR,
        )
    )


def _key_id(vkey: str | None) -> str | None:
    """name+hexid: how the key is named in the checkpoint's signature line."""
    return "+".join(vkey.split("+")[:2]) if vkey else None  # names cannot contain "+"


@metrics.certificate_phase("sign")
def sign(pdf: bytes) -> bytes:
    """Sign a certificate PDF with the portal's key, timestamped when a TSA is configured."""
    identity = signing.identity()
    return pades.sign(
        pdf,
        identity.key_pem,
        identity.cert_pem,
        identity.chain_pem,
        reason="司法文书核验证书 Judicial verification certificate",
        location=settings.CERTIFICATE_SIGNER_LOCATION,
        timestamp_url=settings.CERTIFICATE_TSA_URL or None,
        timestamp_cas_pem=_timestamp_cas() if settings.CERTIFICATE_TSA_URL else (),
    )


def _timestamp_cas() -> list[bytes]:
    """The CA certificates of the configured TSAs (a file not made yet, as the embedded
    default's DEVELOPMENT TSA's before it first starts, is left out)."""
    files = [*settings.LEDGER_TSA_CA_FILES, settings.CERTIFICATE_TSA_CA_FILE]
    paths = [Path(f) for f in dict.fromkeys(files) if f and Path(f).is_file()]
    return [_ca_file(p, p.stat().st_mtime_ns) for p in paths]


@functools.lru_cache(maxsize=16)
def _ca_file(path: Path, mtime_ns: int) -> bytes:
    """A CA file's bytes, read again only when the file changes (its mtime is in the key)."""
    return path.read_bytes()


class Busy(Exception):
    """Every render slot of this process stayed taken for CERTIFICATE_RENDER_WAIT seconds."""


@functools.cache
def _slots() -> threading.BoundedSemaphore:
    # Made on first use, after gevent (if any) has patched threading: then it is a
    # semaphore that greenlets wait on.
    return threading.BoundedSemaphore(settings.CERTIFICATE_RENDER_CONCURRENCY)


def issue(v: Verification, backend: LedgerBackend | None = None) -> Certificate:
    """The certificate of a finished verification: the one kept, or rendered, signed and
    kept now. Raises BackendUnavailable when the ledger cannot be reached, Busy when this
    process renders as many as it may and none finishes in time.

    Single flight: the verification's row stays locked until the new certificate is
    committed, so a concurrent request for the same certificate waits and then serves the
    same one (on SQLite, without row locks, the second made is dropped instead).
    """
    existing = Certificate.objects.filter(verification=v).first()
    if existing is not None:
        return existing
    if v.status != Verification.Status.DONE:
        raise ValueError(f"verification {v.id} is not finished")
    if not transaction.get_connection().in_atomic_block:
        # A request waiting for a slot holds no database connection: a flood of downloads
        # then waits here, not in the connection pool ahead of every other request.
        connection.close()
    if not _slots().acquire(timeout=settings.CERTIFICATE_RENDER_WAIT):
        raise Busy
    try:
        return _issue(v, backend)
    finally:
        _slots().release()


def _issue(v: Verification, backend: LedgerBackend | None) -> Certificate:
    try:
        with transaction.atomic():
            Verification.objects.select_for_update(no_key=True).filter(pk=v.pk).exists()
            existing = Certificate.objects.filter(verification=v).first()
            if existing is not None:
                return existing
            certificate = _make(v, backend or get_backend())
            try:
                certificate.save(force_insert=True)
            except BaseException:
                certificate.pdf.delete(save=False)
                raise
    except IntegrityError:
        return Certificate.objects.get(verification=v)
    return certificate


def _make(v: Verification, backend: LedgerBackend) -> Certificate:
    """Gather the proofs, render and sign (off gevent's loop), store the PDF file."""
    number = v.certificate_number
    development = signing.identity().development
    steps = list(v.steps.all())
    bundle = build_bundle(v, steps, number, backend)
    printed = facts(v, steps, bundle, number, development)
    pdf = cpu_bound.run(lambda: sign(draw(printed)))
    certificate = Certificate(
        number=number, verification=v, bundle=printed.bundle.decode(), development=development
    )
    certificate.pdf.save(f"{number}.pdf", ContentFile(pdf), save=False)
    return certificate


def expire(older_than: datetime.timedelta, chunk: int = 500) -> int:
    """Delete the certificates rendered longer ago than `older_than`, rows then files; one
    asked for again is rendered again from the ledger, with the same number and facts.
    Returns how many."""
    deleted = 0
    cutoff = timezone.now() - older_than
    while True:
        with transaction.atomic():
            rows = list(
                Certificate.objects.select_for_update(skip_locked=True)
                .filter(created_at__lt=cutoff)
                .values_list("number", "pdf")[:chunk]
            )
            Certificate.objects.filter(number__in=[number for number, _ in rows]).delete()
        for _, name in rows:
            if name:
                default_storage.delete(name)
        deleted += len(rows)
        if len(rows) < chunk:
            return deleted
