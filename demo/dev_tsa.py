"""The embedded default's DEVELOPMENT timestamp authority, in the portal's own process.

A development TSA CA and a TSA certificate it issues (critical timeStamping EKU) are made
under PORTAL_DATA_DIR/keys on first use; pyHanko's timestamp responder signs with them.
Both names say DEVELOPMENT, so every token it issues is labelled so wherever its authority
is named (the alliance page, the verification step, the certificate). The CA file is the
default LEDGER_TSA_CA_FILES, so `trust_policy` pins it. The timestamper reaches it without
HTTP (anchoring.timestamps.local_tsas): its URL, DEMO_TSA_URL, only names it.
Production configures real TSAs (LEDGER_TSA_URLS) and runs none of this (DEMO_TSA=0).
"""

from __future__ import annotations

import datetime
import functools
import os
import threading
from pathlib import Path

from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from anchoring import timestamps
from verification import pades
from verification.signing import DEV_MARK

CA_NAME = f"Judicial Portal {DEV_MARK} TSA CA - not for court use"
TSA_NAME = f"{DEV_MARK} timestamp authority"  # the step and pages add what it means
_lock = threading.Lock()


def _files() -> tuple[Path, Path, Path]:
    ca = Path(settings.DEMO_TSA_CA_FILE)
    return ca, ca.with_name("dev-tsa.pem"), ca.with_name("dev-tsa.key")


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Judicial verification portal"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_identity() -> None:
    """Create the development TSA CA (ECDSA P-256) and TSA certificate (RSA) unless they
    exist."""
    ca_file, cert_file, key_file = _files()
    with _lock:
        if ca_file.exists() and cert_file.exists() and key_file.exists():
            return
        now = datetime.datetime.now(datetime.UTC)
        later = now + datetime.timedelta(days=3650)
        # pyHanko's responder signs with RSA only.
        ca_key = ec.generate_private_key(ec.SECP256R1())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = (
            x509.CertificateBuilder()
            .subject_name(_name(CA_NAME))
            .issuer_name(_name(CA_NAME))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(TSA_NAME))
            .issuer_name(_name(CA_NAME))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        _write(
            key_file,
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            private=True,
        )
        _write(cert_file, cert.public_bytes(pem))
        _write(ca_file, ca.public_bytes(pem))


@functools.cache
def _stamper():
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    ensure_identity()
    ca_file, cert_file, key_file = _files()
    return DummyTimeStamper(
        tsa_cert=load_cert_from_pemder(str(cert_file)),
        tsa_key=load_private_key_from_pemder(str(key_file), passphrase=None),
        # Tokens carry their CA too, so that a PDF's timestamp chains to the pinned CA.
        certs_to_embed=SimpleCertificateStore.from_certs([load_cert_from_pemder(str(ca_file))]),
    )


def answer(query: bytes) -> bytes:
    """The TimeStampResp (DER) of the development TSA to a TimeStampReq (DER)."""
    request = tsp.TimeStampReq.load(query, strict=True)
    return _stamper().request_tsa_response(request).dump()


def register() -> None:
    """Serve the development TSA to this process's timestamper, and make its CA file."""
    ensure_identity()
    timestamps.local_tsas[settings.DEMO_TSA_URL] = answer
    pades.local_timestampers[settings.DEMO_TSA_URL] = _stamper()
