"""A log with three witnesses, each a process of this project with its own database and
key, quorum 2 of 3; the log is gunicorn and the sequencer (with its publisher) as deployed.

One witness stopped: publication goes on. Two stopped: publication stops, /health says
which and why, a court submission waits (503 ledger_delayed), and the same request is
answered once a witness returns; nothing acknowledged is lost.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from anchoring import keys
from anchoring.models import Entry
from anchoring.policy import parse_policy
from documents.models import Court, CourtToken
from tests.processes import ROOT, environment, free_port, running
from witness.keys import write_new_key

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GUNICORN = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"]


def _request(port, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, json.dumps(body) if body is not None else None, headers or {})
    answer = conn.getresponse()
    status, data = answer.status, answer.read()
    conn.close()
    return status, data


def _wait_for(port: int, path: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError):
            if _request(port, "GET", path, timeout=5)[0] == 200:
                return
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


class WitnessProcess:
    """One alliance member: this project's witness role on a database and key of its own."""

    def __init__(self, n: int, database_url: str, tmp_path: Path, log_list: Path) -> None:
        self.name = f"w{n}.alliance.example/witness"
        self.port = free_port()
        key = tmp_path / f"w{n}.key"
        self.vkey = write_new_key(key, self.name)
        self.log = tmp_path / f"w{n}.log"
        self.env = environment(
            DATABASE_URL=database_url,
            WITNESS_NAME=self.name,
            WITNESS_SIGNING_KEY_FILE=str(key),
            WITNESS_LOG_LIST=str(log_list),
            LEDGER_SEQUENCER="off",
            WEB_BIND=f"127.0.0.1:{self.port}",
            WEB_WORKERS="1",
            WEB_ACCESS_LOG="",
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/witness"

    def start(self) -> None:
        self.launch()
        self.ready()

    def launch(self) -> None:
        out = self.log.open("a")
        self.proc = subprocess.Popen(
            GUNICORN, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )

    def ready(self) -> None:
        _wait_for(self.port, "/witness/logs", self.log)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


@pytest.fixture
def witness_databases():
    """Three databases of the shared server, migrated once and copied."""
    db = connection.settings_dict
    base = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}"
    names = [f"{db['NAME']}_w{n}" for n in (1, 2, 3)]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{names[0]}"')
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            env=environment(DATABASE_URL=f"{base}/{names[0]}"),
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=180,
        )
        for name in names[1:]:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{names[0]}"')
    yield [f"{base}/{name}" for name in names]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def alliance(tmp_path, witness_databases):
    """Three witnesses following the log, the log's policy (any 2 of 3), the log running."""
    keys.signer()  # the log's key file exists before the children need it
    log_list = tmp_path / "logs.txt"
    log_list.write_text(
        f"logs/v0\nvkey {keys.vkey()}\norigin {settings.LEDGER_ORIGIN}\nqpd 864000\n"
    )
    witnesses = [
        WitnessProcess(n, url, tmp_path, log_list) for n, url in enumerate(witness_databases, 1)
    ]
    for witness in witnesses:  # the three start together
        witness.launch()
    for witness in witnesses:
        witness.ready()
    policy = tmp_path / "witness-policy.txt"
    policy.write_text(
        "".join(f"witness w{n} {w.vkey} {w.url}\n" for n, w in enumerate(witnesses, 1))
        + "group alliance 2 w1 w2 w3\nquorum alliance\n"
    )
    assert parse_policy(policy.read_text(), require_log=False).quorum == "alliance"
    port = free_port()
    env = environment(
        LEDGER_SEQUENCER="off",
        LEDGER_BATCH_PERIOD="0.2",
        LEDGER_WITNESS_POLICY=str(policy),
        LEDGER_WITNESS_TIMEOUT="2",
        LEDGER_WITNESS_RETRY="0.3",
        LEDGER_SUBMIT_TIMEOUT="4",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_WORKERS="1",
        WEB_ACCESS_LOG="",
    )
    log = tmp_path / "log.log"
    with running([GUNICORN, [sys.executable, "manage.py", "sequencer"]], env, log):
        _wait_for(port, "/api/v1/ledger/checkpoint", log)
        try:
            yield port, witnesses, log
        finally:
            for witness in witnesses:
                witness.stop()


def _record(port: int, token: str, n: int, key: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    if key:
        headers["Idempotency-Key"] = key
    body = {"sha256": f"{n:064x}", "sm3": f"{n + 1:064x}", "category": "evidence", "title": "t"}
    status, data = _request(port, "POST", "/api/v1/records", body, headers)
    return status, json.loads(data)


def _cosigners(note: str, witnesses) -> set[str]:
    names = {w.name for w in witnesses}
    return {line.split(" ")[1] for line in note.splitlines() if line.startswith("—")} & names


def test_two_of_three_witnesses_keep_publishing_and_one_is_not_enough(alliance):
    port, witnesses, log = alliance
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    token = CourtToken.issue(court)[1]

    status, first = _record(port, token, 1)
    assert status == 201, first
    assert len(_cosigners(first["ledger"]["checkpoint"], witnesses)) >= 2

    witnesses[2].stop()  # one member down: the quorum still holds
    status, second = _record(port, token, 2)
    assert status == 201, second
    assert _cosigners(second["ledger"]["checkpoint"], witnesses) == {
        witnesses[0].name,
        witnesses[1].name,
    }
    health = json.loads(_request(port, "GET", "/health")[1])
    assert health["status"] == "degraded", health
    down = [m for m in health["witnesses"]["members"] if not m["ok"]]
    assert [m["name"] for m in down] == ["w3"] and down[0]["failing_since"]

    witnesses[1].stop()  # two down: no quorum, publication stops, submitters wait
    published = json.loads(_request(port, "GET", "/api/v1/ledger/checkpoint")[1])["tree_size"]
    status, third = _record(port, token, 3, key="third")
    assert status == 503 and third["error"]["code"] == "ledger_delayed", third
    status, health_body = _request(port, "GET", "/health")
    health = json.loads(health_body)
    assert status == 503 and not health["witnesses"]["ok"], health
    assert "w2" in health["witnesses"]["error"] and "w3" in health["witnesses"]["error"]
    assert json.loads(_request(port, "GET", "/api/v1/ledger/checkpoint")[1])["tree_size"] == (
        published
    )
    assert Entry.objects.count() == published + 1  # integrated and signed, not published

    witnesses[1].start()  # a member returns: the same request is answered
    deadline = time.monotonic() + 30
    while True:
        status, again = _record(port, token, 3, key="third")
        if status == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 201, again
    assert again["code"] == third["error"]["record_code"]
    assert _cosigners(again["ledger"]["checkpoint"], witnesses) == {
        witnesses[0].name,
        witnesses[1].name,
    }
    assert Entry.objects.count() == 3  # nothing lost, nothing twice
    assert "did not cosign" in log.read_text()  # the refusals were logged with the answer
