"""nginx in front of gunicorn, as docker/compose.yaml runs them: slow and oversized bodies
are nginx's to hold or refuse, and gunicorn's workers stay free for everyone else.

nginx is Debian's (scripts/system-packages.txt), a child process of the test on a config
rendered from docker/nginx/nginx.conf.template as the official image renders it (its
settings from docker/nginx/settings.envsh), only where it listens, its upstream, its user
and its directories changed. gunicorn runs docker/gunicorn.conf.py as in
test_web_server.py, one gevent worker.

The flood: a few hundred connections from a hundred client addresses (127.0.1.x), each
sending a request head that announces a 1 MB body, then one byte of it a second. Straight
at gunicorn, every connection holds one of its worker's connections until its body is
in, so once they are all taken /health waits behind them. The worker here holds 100
(WEB_WORKER_CONNECTIONS; 1000 in production against the 2,200 connections that stalled
it), and the proxy's cap on streamed uploads is scaled with it (PROXY_UPLOADS_TOTAL, 200
of 2 x 1000 in production, 20 of 100 here).
"""

import contextlib
import getpass
import http.client
import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from anchoring import keys, sequencer
from plumbing.body_limits import FORM_ALLOWANCE
from tests.processes import ROOT, environment, free_port, running
from verification import batch_pages

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NGINX = ROOT / "docker" / "nginx"
GUNICORN_CONNECTIONS = 100
UPLOADS_TOTAL = 20
# The flood: held this long, a byte a second on each connection.
FLOOD_SECONDS = 6
BUFFERED, STREAMED = 240, 60
# Every /health during the flood must answer within this.
PROMPT = 2.0
MB = 1 << 20


def render_nginx_config(folder: Path, **proxy: str) -> Path:
    """The compose file's nginx.conf, rendered into `folder` the official image's way:
    settings.envsh sourced in the portal's environment (its body limits) with `proxy`'s
    PROXY_* on top, then each ${PROXY_*} of the template replaced by its value."""
    portal = {
        "VERIFY_MAX_FILE_SIZE": str(settings.VERIFY_MAX_FILE_SIZE),
        "VERIFY_MAX_PHOTO_SIZE": str(settings.VERIFY_MAX_PHOTO_SIZE),
        "RECORD_MAX_FILE_SIZE": str(settings.RECORD_MAX_FILE_SIZE),
        "REQUEST_MAX_BODY_SIZE": str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
    }
    env = {"PATH": os.environ["PATH"], **portal, **proxy}
    script = f". {NGINX / 'settings.envsh'} && env -0"
    dump = subprocess.run(["sh", "-c", script], env=env, capture_output=True, check=True)
    values = dict(item.split("=", 1) for item in dump.stdout.decode().split("\0") if item)
    template = (NGINX / "nginx.conf.template").read_text()
    text = re.sub(
        r"\$(?:\{(PROXY_\w+)\}|(PROXY_\w+))",
        lambda m: values[m.group(1) or m.group(2)],
        template,
    )
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def _wait_for(port: int, path: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError):
            if _get(port, path, timeout=5)[0] < 500:
                return
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def _get(port: int, path: str, timeout: float = 10, headers=None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


@pytest.fixture
def web(tmp_path):
    """gunicorn (one gevent worker of GUNICORN_CONNECTIONS) on this test's database; its
    port and its temporary folder (TMPDIR, where Django spools uploads)."""
    keys.signer()
    sequencer.integrate()  # the first checkpoint, so that /health is healthy
    port = free_port()
    spool = tmp_path / "web-tmp"
    spool.mkdir()
    no_rates = ("VERIFY_RATE", "VERIFY_PHOTO_RATE", "PAGE_RATE", "LEDGER_READ_RATE")
    env = environment(
        LEDGER_SEQUENCER="off",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_WORKERS="1",
        WEB_WORKER_CONNECTIONS=str(GUNICORN_CONNECTIONS),
        WEB_ACCESS_LOG="",
        TRUSTED_PROXY_COUNT="1",
        TMPDIR=str(spool),
        # Smaller than the defaults, so that "oversized" is a few MB.
        VERIFY_MAX_PHOTO_SIZE=str(1 * MB),
        RECORD_MAX_FILE_SIZE=str(1 * MB),
        # Connections are what is measured here, not the portal's own rate limits.
        **dict.fromkeys(no_rates, ""),
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"]
    with running([gunicorn], env, tmp_path / "web.log"):
        _wait_for(port, "/health", tmp_path / "web.log")
        yield port, spool


@pytest.fixture
def proxy(web, tmp_path, settings):
    """nginx in front of `web`; its port. The portal's limits as `web` has them."""
    settings.VERIFY_MAX_PHOTO_SIZE = settings.RECORD_MAX_FILE_SIZE = 1 * MB
    folder = tmp_path / "nginx"
    folder.mkdir()
    port = free_port()
    conf = render_nginx_config(
        folder,
        PROXY_LISTEN=f"127.0.0.1:{port}",
        PROXY_UPSTREAM=f"127.0.0.1:{web[0]}",
        PROXY_USER=getpass.getuser(),
        PROXY_STATE_DIR=str(folder),
        PROXY_UPLOADS_TOTAL=str(UPLOADS_TOTAL),
    )
    nginx = ["nginx", "-p", str(folder), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]
    with running([nginx], dict(os.environ), folder / "nginx.log"):
        _wait_for(port, "/health", folder / "nginx.log")
        yield port


class SlowBodies:
    """Connections that each send a request head announcing a large body and then one
    byte of it a second, until the block ends; what each was answered, if anything."""

    def __init__(self, port: int, requests: list[tuple[str, dict]]):
        self.port, self.requests = port, requests
        self.socks: list[socket.socket] = []
        self.answers: dict[socket.socket, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip)

    def __enter__(self) -> "SlowBodies":
        for n, (path, headers) in enumerate(self.requests):
            # A hundred client addresses, a few connections each, as from many machines.
            source = f"127.0.1.{n % 100 + 1}"
            sock = socket.create_connection(("127.0.0.1", self.port), 5, (source, 0))
            head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {MB}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            sock.sendall(head.encode())
            sock.setblocking(False)
            self.socks.append(sock)
            self.answers[sock] = b""
        self._thread.start()
        return self

    def _drip(self) -> None:
        while not self._stop.wait(1.0):
            for sock in self.socks:
                with contextlib.suppress(OSError):  # closed on its side: it answered
                    sock.send(b"x")
            self._read()

    def _read(self) -> None:
        readable, _, _ = select.select(self.socks, [], [], 0)
        for sock in readable:
            with contextlib.suppress(OSError):
                self.answers[sock] += sock.recv(65536)

    def statuses(self) -> list[int | None]:
        """Each connection's answer, its status, or None if it is still held; the drip
        stops here, the connections stay open until the block ends."""
        self._stop.set()
        self._thread.join(10)
        self._read()
        found = [re.match(rb"HTTP/1\.1 (\d{3})", answer) for answer in self.answers.values()]
        return [int(m.group(1)) if m else None for m in found]

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            sock.close()


def _flood_requests() -> list[tuple[str, dict]]:
    """Photos for the QR reader (read whole by nginx), then uploads to verify (streamed)."""
    form = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    # A CSRF cookie, so that the photo form is read (without one it is refused unread).
    photo = {**form, "Cookie": "csrftoken=" + "a" * 32}
    return [("/verify/photo", photo)] * BUFFERED + [("/api/v1/verifications", form)] * STREAMED


def _probe_health(port: int, seconds: float) -> list[float | None]:
    """/health twice a second for `seconds`: each answer's time, None for none in time."""
    waits: list[float | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            status = _get(port, "/health", timeout=PROMPT)[0]
            waits.append(time.monotonic() - started if status == 200 else None)
        except OSError:  # no answer within PROMPT
            waits.append(None)
        time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    return waits


def test_a_slow_body_flood_does_not_stall_health_behind_nginx(web, proxy, tmp_path):
    port, _ = web
    # Straight at gunicorn: the flood takes every connection its worker holds.
    with SlowBodies(port, _flood_requests()) as flood:
        time.sleep(1)
        direct = _probe_health(port, FLOOD_SECONDS / 2)
        direct_answers = flood.statuses()
    # The flood is over (closed); gunicorn serves again.
    _wait_for(port, "/health", tmp_path / "web.log")

    with SlowBodies(proxy, _flood_requests()) as flood:
        time.sleep(1)
        proxied = _probe_health(proxy, FLOOD_SECONDS)
        proxied_answers = flood.statuses()

    late = [w for w in direct if w is None or w > PROMPT]
    print(f"/health straight at gunicorn during the flood: {len(late)} of {len(direct)} late")
    print(f"/health through nginx during the flood: {proxied}")
    assert len(late) >= len(direct) // 2, f"the flood did not hold gunicorn up: {direct}"
    assert direct_answers.count(None) >= GUNICORN_CONNECTIONS
    # Through nginx every probe answered 200 at once ...
    assert proxied and all(w is not None and w < PROMPT for w in proxied), proxied
    # ... while nginx held every photo and refused the streamed uploads over its cap.
    photos, uploads = proxied_answers[:BUFFERED], proxied_answers[BUFFERED:]
    assert photos.count(None) == BUFFERED, photos
    assert uploads.count(None) <= UPLOADS_TOTAL, uploads
    assert uploads.count(429) >= STREAMED - UPLOADS_TOTAL, uploads


def _send_upload(port: int, path: str, fields: dict, chunked: bool, headers=None) -> tuple:
    """POST `fields` as multipart, with a Content-Length or in 64 KiB chunks, watching for
    an answer between pieces (a server that refuses early may reset the connection after
    answering); its status, Content-Type and body."""
    body = encode_multipart(BOUNDARY, fields)
    head = {"Host": "127.0.0.1", "Content-Type": MULTIPART_CONTENT, **(headers or {})}
    head["Cookie"] = "csrftoken=" + "a" * 32
    if chunked:
        head["Transfer-Encoding"] = "chunked"
    else:
        head["Content-Length"] = str(len(body))
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    if chunked:
        pieces = [b"%x\r\n%b\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    answer = b""
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\n".encode())
        sock.sendall("".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n")
        with contextlib.suppress(OSError):  # refused and closed before all of it was sent
            for piece in pieces:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(piece)
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in answer or len(answer) < _answer_length(answer):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    status = int(answer.split(b" ", 2)[1])
    headers_part, _, content = answer.partition(b"\r\n\r\n")
    types = re.search(rb"(?im)^content-type: *(.+?)\r?$", headers_part)
    return status, types.group(1).decode() if types else "", content


def _answer_length(answer: bytes) -> int:
    """How long an answer whose head has arrived is, head and body (as its Content-Length says)."""
    head, _, _ = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return len(head) + 4 + (int(length.group(1)) if length else 0)


class Spool:
    """Files that appear in a folder while the block runs (polled every few milliseconds)."""

    def __init__(self, folder: Path):
        self.folder, self.seen = folder, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.seen.update(p.name for p in self.folder.rglob("*") if p.is_file())

    def __enter__(self) -> "Spool":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_upload_writes_nothing_through_gunicorn(web, chunked):
    from documents.models import Court, CourtToken, IdempotentRequest, Record

    port, spool = web
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    token = CourtToken.issue(court, "case system")[1]
    big = b"\xff" * (8 * MB)
    with Spool(spool) as watched:
        photo = _send_upload(
            port, "/verify/photo", {"photo": SimpleUploadedFile("p.jpg", big)}, chunked
        )
        record = _send_upload(
            port,
            "/api/v1/records",
            {"file": SimpleUploadedFile("e.bin", big), "category": "evidence", "title": "t"},
            chunked,
            {"Authorization": f"Token {token}", "Idempotency-Key": "k1"},
        )
    assert watched.seen == set(), watched.seen
    assert not Record.objects.exists() and not IdempotentRequest.objects.exists()
    if chunked:
        # No length declared: Django would read the body as empty; it is refused instead.
        assert photo[0] == 411 and photo[1].startswith("text/html"), photo
        assert record[0] == 411 and b'"length_required"' in record[2], record
    else:
        assert photo[0] == 413 and photo[1].startswith("text/html"), photo
        assert record[0] == 413 and b'"file_too_large"' in record[2], record


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_nginx_refuses_an_oversized_upload_in_the_portals_words(web, proxy, tmp_path, chunked):
    from documents.models import Court, CourtToken, Record

    _, spool = web
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    token = CourtToken.issue(court, "case system")[1]
    big = b"\xff" * (8 * MB)
    with Spool(spool) as watched:
        photo = _send_upload(
            proxy, "/verify/photo", {"photo": SimpleUploadedFile("p.jpg", big)}, chunked
        )
        record = _send_upload(
            proxy,
            "/api/v1/records",
            {"file": SimpleUploadedFile("e.bin", big), "category": "evidence", "title": "t"},
            chunked,
            {"Authorization": f"Token {token}"},
        )
    assert watched.seen == set(), watched.seen
    assert not Record.objects.exists()
    assert photo[0] == 413 and "照片太大" in photo[2].decode(), photo
    assert record[0] == 413 and b'"file_too_large"' in record[2], record
    # nginx kept nothing of them either.
    assert not [p for p in (tmp_path / "nginx" / "client_body").rglob("*") if p.is_file()]


def test_nginx_caches_the_ledger_and_says_how_the_client_came(web, proxy):
    first = _get(proxy, "/ledger/checkpoint")
    again = _get(proxy, "/ledger/checkpoint")
    assert first[0] == again[0] == 200 and first[2] == again[2]
    assert (first[1]["X-Cache"], again[1]["X-Cache"]) == ("MISS", "HIT")
    missing = _get(proxy, "/ledger/tile/0/001")  # not yet made: never cached
    missing_again = _get(proxy, "/ledger/tile/0/001")
    assert missing[0] == missing_again[0] == 404
    assert missing_again[1].get("X-Cache") != "HIT"

    # The scheme and host the client used, never a scheme the client claims.
    digest = {"sha256": "ab" * 32}
    answer = _post_json(proxy, "/api/v1/verifications", digest, {"X-Forwarded-Proto": "https"})
    assert answer["url"].startswith(f"http://127.0.0.1:{proxy}/verifications/"), answer
    straight = _post_json(web[0], "/api/v1/verifications", digest, {"X-Forwarded-Proto": "https"})
    assert straight["url"].startswith("https://"), straight  # what nginx stops
    # A request that crossed nginx is not the portal's own host's (X-Forwarded-For).
    assert _get(web[0], "/metrics")[0] == 200
    assert _get(proxy, "/metrics")[0] == 404


def _post_json(port: int, path: str, body: dict, headers: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST", path, json.dumps(body), {"Content-Type": "application/json", **headers}
        )
        answer = conn.getresponse()
        assert answer.status == 202, answer.read()
        return json.loads(answer.read())
    finally:
        conn.close()


def test_the_rendered_limits_are_the_portals(tmp_path):
    conf = render_nginx_config(
        tmp_path,
        PROXY_STATE_DIR=str(tmp_path),
        PROXY_UPSTREAM="127.0.0.1:1",
        PROXY_USER=getpass.getuser(),
    ).read_text()
    limits = {
        location: int(size)
        for location, size in re.findall(
            r"location (?:= )?(\S+) \{\s+client_max_body_size (\d+);", conf
        )
    }
    assert limits == {
        "/verify": settings.VERIFY_MAX_FILE_SIZE + FORM_ALLOWANCE,
        "/api/v1/verifications": settings.VERIFY_MAX_FILE_SIZE + FORM_ALLOWANCE,
        "/batch/check": settings.VERIFY_BATCH_PAGE_MAX_UPLOAD + batch_pages.FORM_ALLOWANCE,
        "/verify/photo": settings.VERIFY_MAX_PHOTO_SIZE + FORM_ALLOWANCE,
        "/api/v1/records": settings.RECORD_MAX_FILE_SIZE + FORM_ALLOWANCE,
    }
    everything_else = re.search(r"^    client_max_body_size (\d+);", conf, re.M)
    assert int(everything_else.group(1)) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert not re.search(r"\$\{?PROXY_\w", conf)
    check = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_behind_nginx_with_tls_plain_http_goes_to_https_and_https_answers_with_hsts(tmp_path):
    """The compose set-up with a certificate: nginx ends TLS, and the portal (production
    settings) sends plain HTTP on to HTTPS and HSTS with its answers. OpenSSL makes the
    certificate; the client checks it against that certificate."""
    keys.signer()
    sequencer.integrate()
    cert, key = tmp_path / "tls.pem", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    env = environment(
        LEDGER_SEQUENCER="off",
        WEB_BIND=f"127.0.0.1:{web_port}",
        WEB_WORKERS="1",
        WEB_ACCESS_LOG="",
        TRUSTED_PROXY_COUNT="1",
        SECURE_SSL_REDIRECT="1",
    )
    env.pop("SECURE_HSTS_SECONDS", None)  # the production default
    folder = tmp_path / "nginx"
    folder.mkdir()
    conf = render_nginx_config(
        folder,
        PROXY_LISTEN=f"127.0.0.1:{http_port}",
        PROXY_TLS_LISTEN=f"127.0.0.1:{https_port}",
        PROXY_TLS_CERT=str(cert),
        PROXY_TLS_KEY=str(key),
        PROXY_UPSTREAM=f"127.0.0.1:{web_port}",
        PROXY_USER=getpass.getuser(),
        PROXY_STATE_DIR=str(folder),
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"]
    nginx = ["nginx", "-p", str(folder), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]
    with (
        running([gunicorn], env, tmp_path / "web.log"),
        running([nginx], dict(os.environ), folder / "nginx.log"),
    ):
        _wait_for(http_port, "/health", folder / "nginx.log")
        status, headers, _ = _get(http_port, "/")
        assert status == 301 and headers["Location"].startswith("https://127.0.0.1"), headers

        tls = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=10, context=tls)
        try:
            conn.request("GET", "/")
            answer = conn.getresponse()
            answer.read()
        finally:
            conn.close()
        assert answer.status == 200
        assert answer.getheader("Strict-Transport-Security", "").startswith("max-age=31536000")
        assert "frame-ancestors 'none'" in answer.getheader("Content-Security-Policy", "")
