"""Timestamp authorities for tests: a CA and a TSA certificate made with `cryptography`,
and a real `openssl ts -reply` process serving them over HTTP (tests/tsa_server.py)."""

from __future__ import annotations

import contextlib
import datetime
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.processes import free_port

SERVER = Path(__file__).with_name("tsa_server.py")


@dataclass
class Authority:
    """A test TSA: its folder (CA, TSA key and certificate, OpenSSL config) and names."""

    folder: Path
    name: str
    ca_der: bytes
    ca_pem: Path
    tsa_cert: x509.Certificate
    tsa_key: object

    @property
    def ca_fingerprint(self) -> str:
        import hashlib

        return hashlib.sha256(self.ca_der).hexdigest()


def _key(kind: str):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_authority(folder: Path, kind: str = "rsa", *, eku: bool = True) -> Authority:
    """A CA and a TSA certificate it issues (critical EKU timeStamping unless `eku` is
    false), and the OpenSSL `ts` configuration that signs with them."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, tsa_key = _key(kind), _key(kind)
    ca_name = _name(f"Test TSA CA ({kind}, {folder.name})")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    name = f"Test TSA {kind} {folder.name}"
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    tsa = builder.sign(ca_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (folder / "tsa.key").write_bytes(
        tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(
        f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {folder}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
    )
    return Authority(
        folder, name, ca.public_bytes(serialization.Encoding.DER), folder / "ca.pem", tsa, tsa_key
    )


class Server:
    """A running `openssl ts -reply` HTTP server on a fixed port, stoppable and restartable
    (a TSA down, then back)."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), str(self.authority.folder), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("the test TSA did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextlib.contextmanager
def serving(authority: Authority) -> Iterator[Server]:
    """The authority served by a real `openssl ts -reply` process for the block."""
    server = Server(authority)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def ask(url: str, query: bytes) -> bytes:
    """POST a TimeStampReq, the TimeStampResp."""
    import urllib.request

    req = urllib.request.Request(
        url, data=query, headers={"Content-Type": "application/timestamp-query"}
    )
    with urllib.request.urlopen(req, timeout=10) as answer:
        return answer.read()


@pytest.fixture(scope="module")
def authorities(tmp_path_factory):
    """An RSA and an EC TSA, each a real `openssl ts -reply` process, for the module."""
    folder = tmp_path_factory.mktemp("tsa")
    rsa_tsa = make_authority(folder / "rsa", "rsa")
    ec_tsa = make_authority(folder / "ec", "ec")
    with serving(rsa_tsa) as rsa_server, serving(ec_tsa) as ec_server:
        yield rsa_server, ec_server


@pytest.fixture
def configured(authorities, settings):
    """Both TSAs in LEDGER_TSA_URLS, their CAs pinned, no period between timestamps;
    certificates timestamped by the first."""
    rsa_server, ec_server = authorities
    settings.LEDGER_TSA_URLS = [rsa_server.url, ec_server.url]
    settings.LEDGER_TSA_CA_FILES = [str(s.authority.ca_pem) for s in authorities]
    settings.LEDGER_TIMESTAMP_PERIOD = 0.0
    settings.CERTIFICATE_TSA_URL = rsa_server.url  # as its default, the first ledger TSA
    return authorities
