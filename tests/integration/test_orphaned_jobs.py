"""A broker outage never fails a request and never orphans a verification.

Real processes: gunicorn (docker/gunicorn.conf.py) whose broker is a throwaway Redis
this test starts and stops, a Celery worker, and the sweeper run as the beat would run
it. With the broker down, the API still answers (202 with pending jobs, or the checked
digest) and the upload page still shows a result; once the broker is back, the sweeper
queues every pending job and each verification finishes.
"""

import http.client
import json
import re
import subprocess
import sys
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from anchoring import keys
from tests.processes import ThrowawayRedis, celery_worker, environment, free_port, running
from verification.models import Verification

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def broker(tmp_path):
    redis = ThrowawayRedis(tmp_path)
    yield redis
    redis.stop()


def _send(port: int, method: str, path: str, body=None, form: bool = False, cookie: str = ""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": MULTIPART_CONTENT if form else "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    if form:
        body = encode_multipart(BOUNDARY, body)
    elif body is not None:
        body = json.dumps(body)
    conn.request(method, path, body, headers)
    answer = conn.getresponse()
    result = answer.status, dict(answer.getheaders()), answer.read()
    conn.close()
    return result


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if _send(port, "GET", "/api/v1/ledger/checkpoint")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.2)


def test_with_the_broker_down_nothing_fails_and_nothing_is_orphaned(broker, tmp_path):
    keys.signer()  # the key file exists before the children need it
    port = free_port()
    env = environment(
        CELERY_BROKER_URL=broker.url(),
        LEDGER_SEQUENCER="off",
        LEDGER_BATCH_PERIOD="0.2",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_WORKERS="1",
        WEB_ACCESS_LOG="",
        VERIFY_REQUEUE_AFTER="0",
    )
    web = [
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"],
        [sys.executable, "manage.py", "sequencer"],
    ]
    with running(web, env, tmp_path / "web.log"):
        _wait_for(port)

        items = [{"sha256": f"{i:02x}" * 32} for i in range(3)]
        status, _, body = _send(port, "POST", "/api/v1/verifications/batch", {"items": items})
        assert status == 202, body
        queued = [item["id"] for item in json.loads(body)["items"]]

        status, _, body = _send(port, "POST", "/api/v1/verifications", {"sha256": "ab" * 32})
        assert status == 202, body
        assert json.loads(body)["status"] == "done"  # checked in the request

        _, headers, home = _send(port, "GET", "/")
        cookie = headers["Set-Cookie"].split(";")[0]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', home)
        assert token, home[:500]
        form = {
            "file": SimpleUploadedFile("evidence.txt", b"an exhibit"),
            "back": "/",
            "csrfmiddlewaretoken": token.group(1).decode(),
        }
        status, headers, body = _send(port, "POST", "/verify", form, form=True, cookie=cookie)
        assert status == 302 and "/verifications/" in headers.get("Location", ""), body[:500]

        pending = Verification.objects.filter(pk__in=queued)
        assert set(pending.values_list("status", flat=True)) == {"pending"}

        broker.start()
        worker = celery_worker("--queues", "portal", "--pool", "solo", "--loglevel", "WARNING")
        with running([worker], env, tmp_path / "worker.log"):
            swept = subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from verification.tasks import sweep; print(sweep())",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert swept.returncode == 0, swept.stderr
            assert int(swept.stdout.split()[-1]) >= 3
            deadline = time.monotonic() + 60
            while set(pending.values_list("status", flat=True)) != {"done"}:
                assert time.monotonic() < deadline, list(pending.values("id", "status"))
                time.sleep(0.2)
