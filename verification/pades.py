"""PAdES signatures on certificate PDFs (pyHanko), and reading them back offline.

The portal signs each certificate PDF with its own certificate and key (never the log
key), with an RFC 3161 timestamp when a timestamp authority is configured. check()
validates a signature against pinned CA fingerprints, trusting nothing in the document
itself. attach() puts the proof bundle into the PDF, embedded_file() takes it out.

Plain Python with no Django import, so `judicial-verify certificate` can use it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import io
import logging
from collections.abc import Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.generic import ArrayObject, DictionaryObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

FIELD_NAME = "PortalSignature"
# Bytes kept for the CMS signature: an ECDSA or RSA-4096 signer with a chain of three
# certificates fits in 8 KiB; a timestamp token brings its own certificates.
SIGNATURE_SPACE = 8192

# pyHanko logs every validation detail at WARNING; the verifier prints its own verdict.
logging.getLogger("pyhanko").setLevel(logging.ERROR)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)

# Timestamp authorities served by this very process, by the URL that names them: only the
# embedded default's DEVELOPMENT TSA (demo/dev_tsa.py) registers here, so that its
# certificates carry a timestamp from the authority its trust policy pins.
local_timestampers: dict[str, timestamps.TimeStamper] = {}


class PdfUnusable(ValueError):
    """Not a PDF at all, or a PDF with no portal signature to check."""


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER: how a policy pins a portal CA."""
    return hashlib.sha256(cert.dump()).hexdigest()


def sign(
    pdf: bytes,
    key_pem: bytes,
    cert_pem: bytes,
    chain_pem: list[bytes],
    *,
    reason: str,
    location: str,
    timestamp_url: str | None = None,
    timestamp_cas_pem: Sequence[bytes] = (),
) -> bytes:
    """Sign a PDF (PAdES baseline B, or B-T with a timestamp) as an incremental update.

    timestamp_cas_pem: the TSAs' CA certificates, carried among the signature's
    certificates so that a verifier who pins a CA by fingerprint can find it (a TSA's
    token usually carries only the TSA's own certificate)."""
    chain = [
        cert
        for pem in [*chain_pem, *timestamp_cas_pem]
        for cert in load_certs_from_pemder_data(pem)
    ]
    signer = signers.SimpleSigner(
        signing_cert=next(iter(load_certs_from_pemder_data(cert_pem))),
        signing_key=load_private_key_from_pemder_data(key_pem, passphrase=None),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    timestamper = None
    if timestamp_url:
        timestamper = local_timestampers.get(timestamp_url) or timestamps.HTTPTimeStamper(
            timestamp_url
        )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    # Reserving the space saves pyHanko a dry-run signature to measure it (half the time).
    reserved = SIGNATURE_SPACE * (2 if timestamper else 1)
    return _outside_event_loop(
        lambda: signers.sign_pdf(
            writer, meta, signer=signer, timestamper=timestamper, bytes_reserved=reserved
        ).getvalue()
    )


def _outside_event_loop(work):
    """Run pyHanko's synchronous API, which calls asyncio.run(), even from a thread that
    already runs an event loop (an async server, a Playwright script): then in a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


@dataclass(frozen=True)
class SignatureCheck:
    """What check() found about the portal's signature on a PDF."""

    intact: bool  # the signed bytes are unchanged
    whole_file: bool  # nothing was added after the signature
    trusted: bool  # the signer chains to a pinned CA
    signer: str
    ca: str | None  # fingerprint of the pinned CA it chains to
    signed_at: datetime | None
    timestamped: bool  # an RFC 3161 signature timestamp is attached
    timestamp_intact: bool
    timestamp_trusted: bool  # its authority chains to a pinned TSA CA
    timestamp_at: datetime | None


def _reader(pdf: bytes) -> PdfFileReader:
    if not pdf.startswith(b"%PDF-"):
        raise PdfUnusable("not a PDF file")
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError) as exc:
        raise PdfUnusable(f"the PDF cannot be read ({exc})") from None


def _pinned(certs, pinned: Set[str]) -> list[x509.Certificate]:
    return [c for c in certs if fingerprint(c) in pinned]


def _context(roots: list[x509.Certificate]) -> ValidationContext:
    return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")


def check(pdf: bytes, pinned_cas: Set[str], pinned_tsas: Set[str] = frozenset()) -> SignatureCheck:
    """Validate the portal's signature on a PDF (and its timestamp, if any) against CAs
    pinned by fingerprint; nothing the document carries is trusted for itself."""
    reader = _reader(pdf)
    try:
        signatures = [s for s in reader.embedded_signatures if s.field_name == FIELD_NAME]
    except (PdfError, ValueError, KeyError) as exc:
        raise PdfUnusable(f"the PDF's signature fields cannot be read ({exc})") from None
    if not signatures:
        raise PdfUnusable("the PDF carries no portal signature")
    embedded = signatures[0]
    roots = _pinned([embedded.signer_cert, *embedded.other_embedded_certs], pinned_cas)
    token = embedded.attached_timestamp_data
    carried = [c.chosen for c in token["certificates"]] if token else []
    tsa_roots = _pinned([*carried, *embedded.other_embedded_certs], pinned_tsas) if token else []
    try:
        status = _outside_event_loop(
            lambda: validate_pdf_signature(
                embedded,
                signer_validation_context=_context(roots),
                ts_validation_context=_context(tsa_roots),
            )
        )
    except (SignatureValidationError, PdfError, ValueError):
        subject = _subject(embedded.signer_cert)
        return SignatureCheck(False, False, False, subject, None, None, False, False, False, None)
    stamp = status.timestamp_validity
    return SignatureCheck(
        intact=status.intact and status.valid,
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        trusted=bool(roots) and status.trusted,
        signer=_subject(embedded.signer_cert),
        ca=fingerprint(roots[0]) if roots and status.trusted else None,
        signed_at=status.signer_reported_dt,
        timestamped=stamp is not None,
        timestamp_intact=bool(stamp and stamp.intact and stamp.valid),
        timestamp_trusted=bool(stamp and tsa_roots and stamp.trusted),
        timestamp_at=stamp.timestamp if stamp else None,
    )


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.human_friendly


def attach(pdf: bytes, name: str, data: bytes, description: str, media_type: str) -> bytes:
    """The PDF with a file attached under `name` (the document's EmbeddedFiles)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = embed.EmbeddedFileObject.from_file_data(writer, data, mime_type=media_type)
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string=name, file_name=name, embedded_data=stream, description=description
        ),
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def embedded_file(pdf: bytes, name: str) -> bytes | None:
    """The content of the file attached to the PDF under `name`, or None."""
    reader = _reader(pdf)
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    if not isinstance(names, ArrayObject):
        return None
    for i in range(0, len(names) - 1, 2):
        if str(names[i]) == name:
            spec = names[i + 1].get_object()
            if isinstance(spec, DictionaryObject) and "/EF" in spec:
                return spec["/EF"]["/F"].get_object().data
    return None
