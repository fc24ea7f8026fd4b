"""RFC 3161 timestamp tokens over checkpoints: the request, and the one check of a token.

A token is over the SHA-256 of a checkpoint's body (the note text without its signature
lines). rfc3161-client builds the request, reads the answer and verifies the token (the
CMS signature, the chain at genTime, the TSA certificate's critical timeStamping EKU, the
imprint, the nonce); asn1crypto only wraps a stored token in a granted TimeStampResp, the
form rfc3161-client verifies. A root is trusted
only when its SHA-256 fingerprint is pinned (a `tsa-ca` line): the certificate itself may
come from anywhere (the token, the store, a bundle), since its fingerprint is what counts.

Plain Python, no Django: the timestamper, verification and `judicial-verify` all call
check().
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

MEDIA_TYPE_QUERY = "application/timestamp-query"
MEDIA_TYPE_REPLY = "application/timestamp-reply"
_SHA256_OID = "2.16.840.1.101.3.4.2.1"


class TokenError(ValueError):
    """A token or a TSA's answer that is refused; the message says why."""


class UnpinnedError(TokenError):
    """The token may be sound, but no certificate offered for it has a pinned fingerprint:
    it cannot be checked here (as opposed to a token that fails its check)."""


@dataclass(frozen=True)
class Request:
    """A TimeStampReq (DER) over SHA-256 of a message, and the nonce it carries."""

    der: bytes
    nonce: int


@dataclass(frozen=True)
class Stamp:
    """What a verified token says: when, by whom, under which pinned CA."""

    gen_time: datetime  # UTC
    tsa: str  # the TSA certificate's common name (or whole subject)
    ca: bytes  # DER of the pinned CA certificate it chains to
    ca_fingerprint: str
    serial: int


def fingerprint(der: bytes) -> str:
    """The SHA-256 of a certificate's DER, in hex, as `tsa-ca` lines name it."""
    return hashlib.sha256(der).hexdigest()


def request(message: bytes) -> Request:
    """A request for a token over SHA-256 of `message`, with a fresh nonce and asking for
    the TSA's certificate in the token (so that the token can be checked on its own)."""
    built = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    if built.nonce is None:
        raise TokenError("the request was built without a nonce")
    return Request(built.as_bytes(), built.nonce)


def token_of(reply: bytes) -> bytes:
    """The DER TimeStampToken of a TSA's TimeStampResp; TokenError unless it was granted."""
    try:
        parsed = decode_timestamp_response(reply)
        status = PKIStatus(parsed.status)
        if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            words = " ".join(parsed.status_string or [])
            raise TokenError(f"the TSA refused: {status.name.lower()} {words}".strip())
        return parsed.time_stamp_token()
    except TokenError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise TokenError(f"the answer is not a granted TimeStampResp ({exc})") from None


def _response(token: bytes):
    """The token in a granted TimeStampResp, the form rfc3161-client verifies."""
    # Loaded lazily and wrapped as it is: the token's own bytes go inside unchanged
    # (parsing it all in asn1crypto and encoding it again took a fifth of a second);
    # rfc3161-client parses it strictly, and fields it cannot read fail in check().
    try:
        content = cms.ContentInfo.load(token, strict=True)
        wrapped = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": content})
        return decode_timestamp_response(wrapped.dump())
    except (ValueError, TypeError, KeyError) as exc:
        raise TokenError(f"not a DER TimeStampToken ({exc})") from None


def _certificates(der: Iterable[bytes]) -> list[x509.Certificate]:
    found = []
    for item in der:
        try:
            found.append(x509.load_der_x509_certificate(item))
        except ValueError:
            continue
    return found


def _name(cert: x509.Certificate) -> str:
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else cert.subject.rfc4514_string()


def check(
    token: bytes,
    message: bytes,
    pinned: Set[str],
    cas: Iterable[bytes] = (),
    nonce: int | None = None,
) -> Stamp:
    """Verify `token` over SHA-256 of `message`, chaining to a CA whose fingerprint is in
    `pinned`; `cas` are CA certificates (DER) offered besides those the token carries;
    `nonce` is checked when given (on receipt). The Stamp, or TokenError saying why."""
    try:
        return _check(_response(token), message, pinned, cas, nonce)
    except TokenError:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # a field the parser cannot read
        raise TokenError(f"not a TimeStampToken ({exc})") from None


def _check(response, message: bytes, pinned: Set[str], cas: Iterable[bytes], nonce) -> Stamp:
    info = response.tst_info
    imprint = info.message_imprint
    if imprint.hash_algorithm.dotted_string != _SHA256_OID:
        raise TokenError("the token is not over a SHA-256 digest")
    if imprint.message != hashlib.sha256(message).digest():
        raise TokenError("the token is over another digest than this checkpoint's")
    offered = _certificates([*cas, *response.signed_data.certificates])
    roots = {}
    for cert in offered:
        der = cert.public_bytes(Encoding.DER)
        if fingerprint(der) in pinned:
            roots[der] = cert
    if not roots:
        raise UnpinnedError("its authority does not chain to a pinned TSA CA ('tsa-ca')")
    errors = []
    for der, root in roots.items():
        builder = VerifierBuilder(roots=[root])
        if nonce is not None:
            builder = builder.nonce(nonce)
        try:
            builder.build().verify_message(response, message)
        except (VerificationError, ValueError) as exc:
            errors.append(_short(str(exc)))
            continue
        return Stamp(
            gen_time=_utc(info.gen_time),
            tsa=_signer_name(response),
            ca=der,
            ca_fingerprint=fingerprint(der),
            serial=info.serial_number,
        )
    raise TokenError("the token does not verify: " + "; ".join(sorted(set(errors))))


def _short(error: str) -> str:
    """An OpenSSL error stack said in one line: its first words and what it names."""
    head, _, stack = error.partition(": ErrorStack")
    said = re.findall(r'(?:data|reason): "([^"]+)"', stack)
    return f"{head} ({'; '.join(dict.fromkeys(said))})" if said else head


def _signer_name(response) -> str:
    infos = list(response.signed_data.signer_infos)
    for cert in _certificates(response.signed_data.certificates):
        if (
            infos
            and cert.issuer == infos[0].issuer
            and cert.serial_number == infos[0].serial_number
        ):
            return _name(cert)
    return "?"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def gen_time(token: bytes) -> datetime:
    """The genTime a token claims, unverified (for ordering what is then checked)."""
    try:
        return _utc(_response(token).tst_info.gen_time)
    except TokenError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise TokenError(f"not a TimeStampToken ({exc})") from None
