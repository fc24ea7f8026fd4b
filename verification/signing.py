"""The portal's certificate-signing identity: its key, its certificate and the issuing CA.

Production is given PEM files (CERTIFICATE_KEY_FILE, CERTIFICATE_CERT_FILE,
CERTIFICATE_CHAIN_FILE). The embedded default creates a development CA and a portal
certificate under PORTAL_DATA_DIR on first use; everything signed with them says so.
This is never the log key: a leaked portal key cannot forge a ledger proof.
"""

from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEV_CA_NAME = "Judicial Portal DEVELOPMENT CA - not for court use"
DEV_MARK = "DEVELOPMENT"


@dataclass(frozen=True)
class Identity:
    """The key and certificates the portal signs certificate PDFs with."""

    key_pem: bytes
    cert_pem: bytes
    chain_pem: list[bytes]
    development: bool

    @property
    def ca_fingerprints(self) -> list[str]:
        """SHA-256 of each CA certificate's DER: what a trust policy pins."""
        return [f for pem in self.chain_pem for f in fingerprints(pem)]


def fingerprints(pem: bytes) -> list[str]:
    """SHA-256 of the DER of each certificate in a PEM file (as pades.fingerprint)."""
    return [c.fingerprint(hashes.SHA256()).hex() for c in x509.load_pem_x509_certificates(pem)]


def _pems(data: bytes) -> list[bytes]:
    return [
        c.public_bytes(serialization.Encoding.PEM) for c in x509.load_pem_x509_certificates(data)
    ]


@functools.cache
def identity() -> Identity:
    """The portal's signing identity, creating the development one when allowed."""
    key_file, cert_file = settings.CERTIFICATE_KEY_FILE, settings.CERTIFICATE_CERT_FILE
    chain_file = settings.CERTIFICATE_CHAIN_FILE
    if not key_file.exists():
        if not settings.CERTIFICATE_DEV_CA:
            raise ImproperlyConfigured(
                f"The certificate signing key {key_file} does not exist. Set "
                "CERTIFICATE_KEY_FILE, CERTIFICATE_CERT_FILE and CERTIFICATE_CHAIN_FILE "
                "to the portal's key, certificate and issuing CA (PEM)."
            )
        create_development_ca(key_file, cert_file, chain_file)
    cert_pem = cert_file.read_bytes()
    cert = x509.load_pem_x509_certificate(cert_pem)
    chain = _pems(chain_file.read_bytes()) if chain_file.exists() else []
    return Identity(
        key_pem=key_file.read_bytes(),
        cert_pem=cert_pem,
        chain_pem=chain,
        development=DEV_MARK in cert.issuer.rfc4514_string(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Judicial verification portal"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def create_development_ca(key_file: Path, cert_file: Path, chain_file: Path) -> None:
    """A development CA and a portal certificate it issued (ECDSA P-256, ten years)."""
    now = datetime.datetime.now(datetime.UTC)
    later = now + datetime.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(DEV_CA_NAME)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Judicial verification portal ({DEV_MARK} certificate)"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    _write(chain_file, ca.public_bytes(pem))
    _write(cert_file, cert.public_bytes(pem))
    _write(
        key_file,
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        private=True,
    )
