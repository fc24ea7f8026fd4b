"""The web process as deployed: gunicorn with docker/gunicorn.conf.py (gevent workers).

Court requests wait for the database and for their ledger batch; with gevent that wait
must yield to the other requests of the process, never block it. One worker, so a
blocked event loop would show: while PostgreSQL holds every court write on a table lock,
the same worker still answers, and the held writes then commit as one group; and while
it stamps a long PDF (a second of CPU and more), it still answers too.
"""

import hashlib
import http.client
import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from anchoring import keys
from documents.models import Court, CourtToken, Record
from tests.processes import environment, free_port, running
from tests.receipts import verify_ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REQUESTS = 20


def _request(port: int, method: str, path: str, body=None, token=None, timeout=60, form=False):
    """One request; `form`: send `body` as multipart (files as SimpleUploadedFile)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if form:
        headers["Content-Type"] = MULTIPART_CONTENT
        body = encode_multipart(BOUNDARY, body)
    elif body is not None:
        body = json.dumps(body)
    conn.request(method, path, body, headers)
    answer = conn.getresponse()
    status, data = answer.status, answer.read()
    conn.close()
    return status, data


@pytest.fixture
def web(tmp_path):
    """gunicorn (one gevent worker) and a sequencer on this test's database; its port."""
    keys.signer()  # the key file exists before the children need it
    port = free_port()
    env = environment(
        LEDGER_SEQUENCER="off",
        LEDGER_BATCH_PERIOD="0.2",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_WORKERS="1",
        WEB_ACCESS_LOG="",
    )
    gunicorn = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"]
    sequencer = [sys.executable, "manage.py", "sequencer"]
    with running([gunicorn, sequencer], env, tmp_path / "web.log"):
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/api/v1/ledger/checkpoint", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()[-2000:]
            time.sleep(0.2)
        yield port


def _held_inserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO \"documents_record\"%%'"
        )
        return cursor.fetchone()[0]


def test_a_gevent_worker_serves_others_while_court_writes_wait(web):
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    _, token = CourtToken.issue(court, "case system")
    db = connection.settings_dict
    lock = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=False
    )
    lock.execute("LOCK TABLE documents_record IN EXCLUSIVE MODE")  # reads pass, writes wait
    answers = []

    def post(n: int) -> None:
        digest = hashlib.sha256(f"document {n}".encode()).hexdigest()
        body = {"category": "evidence", "title": f"证据 {n}", "sha256": digest, "sm3": digest}
        status, data = _request(web, "POST", "/api/v1/records", body, token)
        answers.append((status, json.loads(data), digest))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(REQUESTS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _held_inserts() == 0:
            assert time.monotonic() < deadline, "no court write reached the database"
            time.sleep(0.05)
        # The worker's only write is stuck in PostgreSQL; its event loop must not be.
        started = time.monotonic()
        status, _ = _request(web, "GET", "/api/v1/ledger/checkpoint", timeout=10)
        assert status == 200
        assert time.monotonic() - started < 5
        time.sleep(1)  # the other requests reach the group commit's queue
    finally:
        lock.rollback()
        lock.close()
    for thread in threads:
        thread.join(60)

    assert sorted(status for status, _, _ in answers) == [201] * REQUESTS, answers
    for _, body, digest in answers:
        assert body["sha256"] == digest
        verify_ledger(body["ledger"])
    # The first write, then the requests that queued behind it in one transaction.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT xmin::text) FROM documents_record")
        transactions = cursor.fetchone()[0]
    assert Record.objects.count() == REQUESTS
    assert transactions <= 3, transactions


def _long_pdf(tmp_path, copies: int = 40) -> bytes:
    """The demo judgment, its pages repeated (qpdf): stamping it takes seconds of CPU."""
    from demo.builders import judgment_pdf

    court = Court(name_zh="北京市朝阳区人民法院")
    one = tmp_path / "one.pdf"
    one.write_bytes(judgment_pdf(court, "（2026）京0105民初1号", "民事判决书", ["判决如下。"]))
    out = tmp_path / "long.pdf"
    subprocess.run(["qpdf", "--empty", "--pages", *[str(one)] * copies, "--", str(out)], check=True)
    return out.read_bytes()


def test_a_gevent_worker_serves_others_while_it_stamps_a_long_pdf(web, tmp_path):
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang Court")
    _, token = CourtToken.issue(court, "case system")
    fields = {
        "category": "litigation_document",
        "title": "民事判决书",
        "stamp": "true",
        "file": SimpleUploadedFile("j.pdf", _long_pdf(tmp_path), "application/pdf"),
    }
    stamped = []

    def post() -> None:
        stamped.append(_request(web, "POST", "/api/v1/records", fields, token, form=True))

    stamping = threading.Thread(target=post)
    stamping.start()
    time.sleep(1)  # the upload is in; the worker is stamping its 80 pages
    started = time.monotonic()
    status, _ = _request(web, "GET", "/api/v1/ledger/checkpoint", timeout=30)
    waited = time.monotonic() - started
    still_stamping = stamping.is_alive()
    stamping.join(120)

    assert status == 200
    assert still_stamping, "the PDF was stamped before the probe: make it longer"
    assert waited < 1, f"the worker's loop was held {waited:.1f} s"
    status, body = stamped[0]
    assert status == 201, body
    assert json.loads(body)["stamped"] is True
