"""Certificates of the demo judgment, checked by real tools: poppler, zbar, pyHanko and
`judicial-verify` as a separate process; and each kind of tampering, caught."""

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from anchoring import keys
from documents import codes
from tests.court_ledger import check, sha
from verification import certificate, pades
from verification.models import Certificate

ROOT = Path(__file__).resolve().parents[2]


def judicial_verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "verification.offline", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def policy(tmp_path, settings) -> Path:
    from io import StringIO

    out = StringIO()
    call_command("trust_policy", stdout=out)
    path = tmp_path / "policy.txt"
    path.write_text(out.getvalue())
    return path


@pytest.fixture
def issued(ledger, tmp_path):
    """The served judgment verified by its file, and its certificate written to disk."""
    v = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    cert = certificate.issue(v)
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(cert.pdf.read())
    bundle = tmp_path / "bundle.json"
    bundle.write_text(cert.bundle)
    original = tmp_path / "judgment.pdf"
    original.write_bytes(ledger.judgment_pdf)
    return v, cert, pdf, bundle, original


def test_pdftotext_reads_chinese_english_and_the_digest(issued):
    v, cert, pdf, *_ = issued
    text = subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True).stdout
    assert "司法文书核验证书" in text and "Verification certificate" in text
    assert "核验通过" in text and "Verified" in text
    assert v.sha256 in text and v.sm3 in text
    assert codes.display(cert.number) in text
    assert "北京市朝阳区人民法院" in text
    assert "DEVELOPMENT" in text  # signed with the development CA, and it says so
    log_key_id = "+".join(keys.vkey().split("+")[:2])  # origin+key id, as in signatures
    assert log_key_id in text


def test_the_pdf_is_well_formed_a4_and_carries_the_bundle(issued):
    v, cert, pdf, bundle, _ = issued
    check_ = subprocess.run(["qpdf", "--check", pdf], capture_output=True, text=True)
    assert check_.returncode == 0, check_.stdout + check_.stderr
    assert "No syntax or stream encoding errors" in check_.stdout
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
    assert f"certificate {codes.display(cert.number)}" in info  # the title names it
    attachments = subprocess.run(
        ["qpdf", "--list-attachments", pdf], capture_output=True, text=True
    ).stdout
    assert attachments.startswith("proof-bundle.json ->"), attachments
    shown = subprocess.run(
        ["qpdf", "--show-attachment=proof-bundle.json", pdf], capture_output=True
    ).stdout
    assert shown == bundle.read_bytes()


def test_characters_beyond_the_common_subset_are_drawn_from_the_full_font(ledger, tmp_path):
    """A name outside GB 2312 (堃, 䶮) is printed from a subset of the full font, and read
    back as the same characters."""
    v = check(sha256=sha(ledger.evidence_bytes), filename="王堃与䶮的证据.pdf")
    path = tmp_path / "rare.pdf"
    path.write_bytes(certificate.issue(v).pdf.read())
    text = subprocess.run(["pdftotext", path, "-"], capture_output=True, text=True).stdout
    assert "王堃与䶮的证据.pdf" in text
    fonts = subprocess.run(["pdffonts", path], capture_output=True, text=True).stdout
    assert len(fonts.splitlines()) >= 4  # the common subset and the rare characters' font


def test_every_font_is_embedded(issued):
    pdf = issued[2]
    lines = subprocess.run(["pdffonts", pdf], capture_output=True, text=True).stdout.splitlines()
    fonts = lines[2:]
    assert fonts, lines
    for line in fonts:
        # columns: name type encoding emb sub uni object ID
        assert re.search(r"\s(yes)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", line), line


def test_the_qr_code_leads_to_the_online_certificate(issued, settings, tmp_path):
    cert, pdf = issued[1], issued[2]
    subprocess.run(
        ["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", pdf, tmp_path / "page"], check=True
    )
    page = next(tmp_path.glob("page*.png"))
    read = subprocess.run(["zbarimg", "--quiet", "--raw", page], capture_output=True, text=True)
    assert read.stdout.strip() == f"{settings.PUBLIC_BASE_URL}/c/{codes.display(cert.number)}"


def test_pyhanko_finds_the_signature_intact_and_trusted_against_the_development_ca(
    issued, settings
):
    pdf = issued[2]
    ca = list(load_certs_from_pemder_data(settings.CERTIFICATE_CHAIN_FILE.read_bytes()))
    with open(pdf, "rb") as f:
        signature = PdfFileReader(f).embedded_signatures[0]
        status = validate_pdf_signature(
            signature, ValidationContext(trust_roots=ca, allow_fetching=False)
        )
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line


def test_judicial_verify_passes_the_genuine_certificate_and_bundle(issued, policy):
    v, cert, pdf, bundle, original = issued
    done = judicial_verify("certificate", pdf, "--file", original, "--policy", policy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("VERIFIED")
    assert "PDF signature intact" in done.stdout
    assert f"entry {v.ledger_index} is included" in done.stdout
    assert done.stdout.count("\nok  service event at ledger entry") == 4
    assert "ok  title: 民事判决书" in done.stdout  # the opened metadata, recomputed
    done = judicial_verify("bundle", bundle, "--file", original, "--policy", policy)
    assert done.returncode == 0, done.stdout + done.stderr
    # The bundle downloadable on its own is the one inside the signed PDF.
    assert pades.embedded_file(pdf.read_bytes(), "proof-bundle.json") == bundle.read_bytes()


def _failed(done, step: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAILED at {step}" in done.stdout, done.stdout


def test_one_byte_of_the_original_changed_fails(issued, policy, tmp_path):
    changed = bytearray(issued[4].read_bytes())
    changed[len(changed) // 2] ^= 0x01
    path = tmp_path / "changed.pdf"
    path.write_bytes(changed)
    _failed(
        judicial_verify("certificate", issued[2], "--file", path, "--policy", policy),
        "original file",
    )
    _failed(
        judicial_verify("bundle", issued[3], "--file", path, "--policy", policy), "original file"
    )


def _tampered_bundle(issued, tmp_path, change) -> Path:
    bundle = json.loads(issued[3].read_text())
    change(bundle)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(bundle))
    return path


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_one_hash_of_the_proof_changed_fails(issued, policy, tmp_path):
    def change(bundle):
        lines = bundle["entry"]["inclusion_proof"].split("\n")
        lines[2] = _flip_b64(lines[2])  # the first proof hash, after header and index
        bundle["entry"]["inclusion_proof"] = "\n".join(lines)

    path = _tampered_bundle(issued, tmp_path, change)
    _failed(judicial_verify("bundle", path, "--policy", policy), "entry inclusion proof")


def test_the_checkpoint_text_changed_fails(issued, policy, tmp_path):
    def change(bundle):
        proof = bundle["entry"]["inclusion_proof"]
        head, _, note = proof.partition("\n\n")
        origin, size, rest = note.split("\n", 2)
        bundle["entry"]["inclusion_proof"] = f"{head}\n\n{origin}\n{int(size) + 1}\n{rest}"

    path = _tampered_bundle(issued, tmp_path, change)
    _failed(judicial_verify("bundle", path, "--policy", policy), "entry checkpoint signature")


def test_the_checkpoint_signature_changed_fails(issued, policy, tmp_path):
    def change(bundle):
        proof = bundle["entry"]["inclusion_proof"]
        body, _, signature = proof.rstrip("\n").rpartition("\n")
        prefix, name, sig = signature.split(" ")
        raw = bytearray(base64.b64decode(sig))
        raw[10] ^= 0x01
        bundle["entry"]["inclusion_proof"] = (
            f"{body}\n{prefix} {name} {base64.b64encode(bytes(raw)).decode()}\n"
        )

    path = _tampered_bundle(issued, tmp_path, change)
    _failed(judicial_verify("bundle", path, "--policy", policy), "entry checkpoint signature")


def test_the_pdf_itself_changed_fails(issued, policy, tmp_path):
    pdf = bytearray(issued[2].read_bytes())
    at = pdf.index(b"/Title") + 10  # inside the document information, which is signed
    pdf[at] ^= 0x01
    path = tmp_path / "changed-certificate.pdf"
    path.write_bytes(pdf)
    _failed(judicial_verify("certificate", path, "--policy", policy), "PDF signature")


def test_a_certificate_re_signed_by_another_ca_fails(issued, policy, tmp_path, settings):
    from verification import signing

    other = tmp_path / "other"
    signing.create_development_ca(other / "k.pem", other / "c.pem", other / "ca.pem")
    v, cert = issued[0], issued[1]
    # A look-alike certificate, its bundle genuine, signed by someone else's CA.
    unsigned = certificate.render(
        v, list(v.steps.all()), json.loads(cert.bundle), cert.number, development=False
    )
    resigned = pades.sign(
        unsigned,
        (other / "k.pem").read_bytes(),
        (other / "c.pem").read_bytes(),
        [(other / "ca.pem").read_bytes()],
        reason="forged",
        location="elsewhere",
    )
    path = tmp_path / "resigned.pdf"
    path.write_bytes(resigned)
    _failed(judicial_verify("certificate", path, "--policy", policy), "PDF signature")


def test_a_not_found_certificate_is_genuine_but_not_a_verification(ledger, policy, tmp_path):
    v = check(sha256=sha(b"no court recorded this"))
    cert = certificate.issue(v)
    path = tmp_path / "nf.pdf"
    path.write_bytes(cert.pdf.read())
    done = judicial_verify("certificate", path, "--policy", policy)
    _failed(done, "outcome")
    assert "not found in the ledger" in done.stdout


def test_unusable_input_is_exit_code_2(issued, policy, tmp_path):
    notpdf = tmp_path / "x.pdf"
    notpdf.write_text("hello")
    assert judicial_verify("certificate", notpdf, "--policy", policy).returncode == 2
    assert judicial_verify("bundle", notpdf, "--policy", policy).returncode == 2
    bad_policy = tmp_path / "bad.txt"
    bad_policy.write_text("log nonsense\n")
    done = judicial_verify("bundle", issued[3], "--policy", bad_policy)
    assert done.returncode == 2 and "policy" in done.stderr


def test_issuing_twice_keeps_one_certificate(issued):
    v, cert = issued[0], issued[1]
    assert certificate.issue(v).number == cert.number
    assert Certificate.objects.filter(verification=v).count() == 1


def test_the_api_links_the_certificate_and_the_pages_serve_it(issued, client):
    v, cert, pdf, bundle, _ = issued
    body = client.get(f"/api/v1/verifications/{v.id}").json()
    number = codes.display(cert.number)
    links = body["certificate"]
    assert links["number"] == number
    assert links["url"].endswith(f"/c/{number}")
    page = client.get(f"/c/{number}")
    assert page.status_code == 200 and number in page.content.decode()
    download = client.get(links["pdf"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == pdf.read_bytes()
    assert client.get(links["bundle"]).content == bundle.read_bytes()
    # A typed number in lower case without hyphens leads to the same page.
    assert client.get(f"/c/{cert.number.lower()}").status_code == 302
    assert client.get("/c/7K3M9Q-XD4RTW-2HVBPZ").status_code == 404


def test_verify_again_now_starts_a_new_verification(issued, client):
    v, cert = issued[0], issued[1]
    response = client.post(f"/c/{codes.display(cert.number)}/reverify")
    assert response.status_code == 302
    new_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    assert new_id != v.id
    again = type(v).objects.get(pk=new_id)
    assert (again.sha256, again.sm3) == (v.sha256, v.sm3)


def _tsa_identity(folder: Path) -> tuple[bytes, bytes]:
    """A timestamp authority's self-signed certificate and key (PEM), made for this test."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's TSA: RSA
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test timestamp authority")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "tsa.pem").write_bytes(cert.public_bytes(pem))
    return cert.public_bytes(pem), key_pem


@pytest.fixture
def tsa(tmp_path, settings):
    """An RFC 3161 timestamp authority over HTTP on localhost (pyHanko's TSA responder)."""
    import asyncio
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from asn1crypto import tsp
    from pyhanko.keys import load_private_key_from_pemder_data
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    cert_pem, key_pem = _tsa_identity(tmp_path)
    stamper = DummyTimeStamper(
        tsa_cert=next(iter(load_certs_from_pemder_data(cert_pem))),
        tsa_key=load_private_key_from_pemder_data(key_pem, passphrase=None),
    )
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append(request)
            answer = asyncio.run(stamper.async_request_tsa_response(request)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.CERTIFICATE_TSA_URL = f"http://127.0.0.1:{server.server_port}/"
    settings.CERTIFICATE_TSA_CA_FILE = str(tmp_path / "tsa.pem")
    yield requests
    server.shutdown()


def test_with_a_timestamp_authority_the_signature_is_timestamped(
    ledger, tsa, tmp_path, policy, settings
):
    v = check(sha256=sha(ledger.judgment_pdf))
    path = tmp_path / "stamped.pdf"
    path.write_bytes(certificate.issue(v).pdf.read())
    assert tsa  # the portal asked the authority (pyHanko asks once more to size the token)
    assert "tsa-ca " in policy.read_text()
    done = judicial_verify("certificate", path, "--policy", policy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RFC 3161 timestamp" in done.stdout and "by a trusted authority" in done.stdout

    # A policy that requires a timestamp refuses a certificate signed without one.
    tsa_line = next(line for line in policy.read_text().splitlines() if line.startswith("tsa-ca"))
    plain = tmp_path / "plain.pdf"
    settings.CERTIFICATE_TSA_URL = ""
    unsigned = certificate.render(
        v, list(v.steps.all()), json.loads(v.certificate.bundle), "X", development=True
    )
    plain.write_bytes(certificate.sign(unsigned))
    _failed(judicial_verify("certificate", plain, "--policy", policy), "timestamp")
    # Without the tsa-ca line the same certificate passes: a timestamp is then optional.
    relaxed = tmp_path / "relaxed.txt"
    relaxed.write_text(policy.read_text().replace(tsa_line, ""))
    assert judicial_verify("certificate", plain, "--policy", relaxed).returncode == 0


def test_a_policy_can_require_witness_cosignatures(issued, policy, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from anchoring import cosignature

    key = Ed25519PrivateKey.generate()
    witness = cosignature.vkey("witness.procuratorate.example", key.public_key().public_bytes_raw())
    strict = tmp_path / "strict.txt"
    strict.write_text(policy.read_text().replace("quorum none", f"witness p {witness}\nquorum p"))
    # The portal's checkpoint carries no cosignature: the quorum is not met.
    _failed(judicial_verify("bundle", issued[3], "--policy", strict), "witness quorum")

    def cosign(bundle):
        proof = bundle["entry"]["inclusion_proof"]
        body = proof.partition("\n\n")[2].split("\n\n")[0] + "\n"
        line = cosignature.cosign(body, "witness.procuratorate.example", key, 1_767_225_600)
        bundle["entry"]["inclusion_proof"] = proof + line

    done = judicial_verify("bundle", _tampered_bundle(issued, tmp_path, cosign), "--policy", strict)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "witness quorum 'p' satisfied by p" in done.stdout


def test_in_process_a_failed_certificate_never_fails_the_verification_and_is_backfilled(
    ledger, settings, monkeypatch, caplog
):
    from io import StringIO

    from verification import tasks

    v = check(sha256=sha(ledger.evidence_bytes))
    settings.CELERY_TASK_ALWAYS_EAGER = True

    def broken(verification, backend=None):
        raise RuntimeError("the renderer fell over")

    monkeypatch.setattr(certificate, "issue", broken)
    # queued as the product queues it: in-process, logged, not raised into the request
    assert tasks.issue_certificate.delay(v.pk).get() is None
    assert "the renderer fell over" in caplog.text
    assert not Certificate.objects.filter(verification=v).exists()
    monkeypatch.undo()
    out = StringIO()
    call_command("issue_certificates", stdout=out)
    assert "1 certificate(s) issued" in out.getvalue()
    assert Certificate.objects.get(verification=v).pdf.read().startswith(b"%PDF-")


def test_signing_works_from_a_thread_that_runs_an_event_loop(issued):
    """pyHanko's synchronous API calls asyncio.run(); Playwright scripts and async servers
    already run a loop in their thread."""
    import asyncio

    v, cert = issued[0], issued[1]
    unsigned = certificate.render(
        v, list(v.steps.all()), json.loads(cert.bundle), cert.number, development=True
    )

    async def sign_in_a_loop() -> bytes:
        return certificate.sign(unsigned)

    signed = asyncio.run(sign_in_a_loop())
    assert pades.check(signed, set()).intact
