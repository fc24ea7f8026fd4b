"""Faults under load: nothing acknowledged is lost, nothing is left stuck.

The production set-up on a PostgreSQL cluster and a Redis of this test's own: gunicorn
(docker/gunicorn.conf.py, two workers), the sequencer, a Celery worker and Celery beat.
Court systems record files with an Idempotency-Key and retry every failure with the same
key, as docs/api.md tells them to; the public verifies digests one by one and in batches.
Meanwhile: kill -9 of the sequencer, of a web worker and of the Celery worker, a crash
and restart of PostgreSQL, a stop and start of Redis. Afterwards:

- every record acknowledged (201) is in the ledger at the index its receipt gave, with an
  inclusion proof under a checkpoint signed by the ledger key, and was recorded once;
- no Idempotency-Key is stuck (every key's request finished with a stored answer);
- no verification stays unfinished, and each finished one gets its certificate;
- no request to /api/ answered anything but the JSON error body.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from anchoring import keys
from tests.processes import ROOT, ThrowawayPostgres, ThrowawayRedis, celery_worker, free_port
from tests.receipts import verify_ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RECORDERS, RECORDS_EACH = 6, 12
GIVE_UP = 150.0  # seconds a court system keeps retrying one request


class Service:
    """One production process, in a session of its own, that the test may kill -9."""

    def __init__(self, name: str, argv: list[str], env: dict, logs: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, logs / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """kill -9 of the process and every process it started."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def kill_one_child(self) -> None:
        """kill -9 of one worker of a pre-forking master (the master starts another)."""
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        os.kill(int(children.split()[0]), signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@dataclass
class Answers:
    """What the clients saw: acknowledged records, verifications, and bad answers."""

    records: dict[str, dict] = field(default_factory=dict)  # key -> the 201 body
    gave_up: list[str] = field(default_factory=list)
    verifications: list[str] = field(default_factory=list)
    not_json: list[tuple[str, int, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send(port: int, method: str, path: str, body=None, headers=None, answers=None):
    """One request; (status, parsed JSON or None). Connection errors propagate."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            method,
            path,
            json.dumps(body) if body is not None else None,
            {"Content-Type": "application/json", **(headers or {})},
        )
        answer = conn.getresponse()
        status, data = answer.status, answer.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if (
        answers is not None
        and path.startswith("/api/")
        and (parsed is None or (status >= 400 and "error" not in parsed))
    ):
        with answers.lock:
            answers.not_json.append((path, status, data[:200]))
    return status, parsed


def _record(port: int, token: str, key: str, answers: Answers) -> None:
    """A court system's request, retried with the same key until it is acknowledged."""
    body = {
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
        "sm3": hashlib.sha256(b"sm3 " + key.encode()).hexdigest(),
        "category": "evidence",
        "title": f"证据 {key}",
    }
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": key}
    deadline = time.monotonic() + GIVE_UP
    while time.monotonic() < deadline:
        try:
            status, parsed = _send(port, "POST", "/api/v1/records", body, headers, answers)
        except OSError:
            status, parsed = None, None
        if status == 201:
            with answers.lock:
                answers.records[key] = parsed
            return
        time.sleep(random.uniform(0.2, 1.0))
    with answers.lock:
        answers.gave_up.append(key)


def _recorder(port: int, token: str, n: int, answers: Answers) -> None:
    for i in range(RECORDS_EACH):
        _record(port, token, f"court-system-{n}-{i}", answers)


def _verifier(port: int, stop: threading.Event, answers: Answers) -> None:
    """The public: batches of digests, some recorded, some not."""
    n = 0
    while not stop.is_set():
        n += 1
        items = [
            {"sha256": hashlib.sha256(f"court-system-0-{i}".encode()).hexdigest()} for i in range(3)
        ] + [{"sha256": f"{n:064x}"}]
        try:
            status, parsed = _send(
                port, "POST", "/api/v1/verifications/batch", {"items": items}, answers=answers
            )
        except OSError:
            status, parsed = None, None
        if status == 202:
            with answers.lock:
                answers.verifications += [item["id"] for item in parsed["items"]]
        time.sleep(1.0)


def _faults(services: dict[str, Service], pg: ThrowawayPostgres, redis: ThrowawayRedis) -> list:
    """The campaign, a step every few seconds; returns what was done, for the report."""
    done = []

    def step(what: str, action) -> None:
        time.sleep(3)
        action()
        done.append(what)

    step("kill -9 the sequencer", services["sequencer"].kill)
    step("start the sequencer", services["sequencer"].start)
    step("kill -9 a web worker", services["web"].kill_one_child)
    step("kill -9 the Celery worker", services["worker"].kill)
    step("start the Celery worker", services["worker"].start)
    step("crash PostgreSQL", pg.crash)
    step("start PostgreSQL", pg.start)
    step("stop Redis", redis.stop)
    step("start Redis", redis.start)
    step("kill -9 the sequencer again", services["sequencer"].kill)
    step("start the sequencer", services["sequencer"].start)
    return done


def _wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: still not so after {timeout:.0f} s"
        time.sleep(0.5)


def _query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=5) as db:
        return db.execute(sql).fetchall()


def test_nothing_acknowledged_is_lost_and_nothing_is_left_stuck(tmp_path):
    keys.signer()  # the suite's ledger key file, shared with the children
    pg, redis = ThrowawayPostgres(), ThrowawayRedis(tmp_path)
    pg.create()
    redis.start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg.url,
        "CELERY_BROKER_URL": redis.url(0),
        "CACHE_URL": redis.url(1),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LEDGER_SIGNING_KEY_FILE": str(settings.LEDGER_SIGNING_KEY_FILE),
        "LEDGER_SEQUENCER": "off",  # the sequencer process integrates
        "LEDGER_BATCH_PERIOD": "0.2",
        "LEDGER_SUBMIT_TIMEOUT": "5",
        "LEDGER_FSCK_PERIOD": "0",
        "COURT_IDEMPOTENCY_LEASE": "5",
        "VERIFY_REQUEUE_AFTER": "10",
        "VERIFY_SWEEP_PERIOD": "2",
        "VERIFY_RATE": "100000/minute",
        "VERIFY_BATCH_RATE": "100000/minute",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "2",
        "WEB_ACCESS_LOG": "",
        "CONN_HEALTH_CHECKS": "1",
    }
    manage = [sys.executable, "manage.py"]
    services: dict[str, Service] = {}
    try:
        subprocess.run(
            [*manage, "migrate", "--noinput"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [
                *manage,
                "court_create",
                "--code",
                "BJ0105",
                "--name-zh",
                "朝阳法院",
                "--name-en",
                "Chaoyang",
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        token = subprocess.run(
            [*manage, "court_token", "BJ0105"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        services = {
            "web": Service(
                "web",
                [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"],
                env,
                tmp_path,
            ),
            "sequencer": Service("sequencer", [*manage, "sequencer"], env, tmp_path),
            "worker": Service(
                "worker",
                celery_worker(
                    "--queues",
                    "portal,certificates",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "WARNING",
                ),
                env,
                tmp_path,
            ),
            "beat": Service(
                "beat",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "beat",
                    "--schedule",
                    str(tmp_path / "beat-schedule"),
                    "--loglevel",
                    "WARNING",
                ],
                env,
                tmp_path,
            ),
        }
        for service in services.values():
            service.start()
        _wait_until(lambda: _alive(port), 60, "the web server answering")

        answers, stop = Answers(), threading.Event()
        clients = [
            threading.Thread(target=_recorder, args=(port, token, n, answers))
            for n in range(RECORDERS)
        ]
        clients.append(threading.Thread(target=_verifier, args=(port, stop, answers)))
        for client in clients:
            client.start()
        campaign = _faults(services, pg, redis)
        # The public stops with the faults: what it sent through them must all finish.
        stop.set()
        clients[-1].join(60)
        for client in clients[:-1]:
            client.join(GIVE_UP + 60)

        assert len(campaign) == 11
        assert not answers.gave_up, f"requests never acknowledged: {answers.gave_up}"
        assert len(answers.records) == RECORDERS * RECORDS_EACH

        # Recorded once each, provable where the receipt said, no key stuck.
        assert _query(pg.url, "SELECT count(*) FROM documents_record") == [(len(answers.records),)]
        stuck = "SELECT key FROM documents_idempotentrequest WHERE status IS NULL"
        assert _query(pg.url, stuck) == []
        headers = {"Authorization": f"Token {token}"}
        for key, first in answers.records.items():
            status, now = _send(port, "GET", f"/api/v1/records/{first['code']}", headers=headers)
            assert status == 200, (key, now)
            verify_ledger(now["ledger"])
            assert now["ledger"]["index"] == first["ledger"]["index"], key

        # Every verification finishes (the sweeper queues what the outages orphaned) and
        # each finished one has its certificate.
        unfinished = "SELECT count(*) FROM verification_verification WHERE status <> 'done'"
        try:
            _wait_until(lambda: _query(pg.url, unfinished) == [(0,)], 90, "verifications finished")
        except AssertionError:
            _report(pg.url, services)
            raise
        assert answers.verifications
        for vid in random.sample(answers.verifications, min(10, len(answers.verifications))):
            pdf = _wait_until(lambda vid=vid: _certificate_pdf(port, vid), 90, f"{vid} certificate")
            assert pdf.startswith(b"%PDF-")
        assert not answers.not_json, answers.not_json[:5]
    finally:
        for service in services.values():
            service.stop()
        redis.stop()
        pg.destroy()


def _report(url: str, services: dict[str, Service]) -> None:
    """What a failure needs to be understood: the unfinished rows and the logs' tails."""
    rows = _query(
        url,
        "SELECT status, attempts, created_at, queued_at, started_at FROM "
        "verification_verification WHERE status <> 'done' ORDER BY created_at LIMIT 20",
    )
    print("unfinished verifications (status, attempts, created, queued, started):")
    for row in rows:
        print("  ", row)
    for service in services.values():
        lines = service.log.read_text(errors="replace").splitlines()
        print(f"--- the last lines of {service.name}.log ---")
        print("\n".join(lines[-60:]))


def _alive(port: int) -> bool:
    try:
        return _send(port, "GET", "/api/v1/ledger/checkpoint")[0] == 200
    except OSError:
        return False


def _certificate_pdf(port: int, verification_id: str) -> bytes | None:
    """The verification's certificate PDF, once it has one."""
    status, answer = _send(port, "GET", f"/api/v1/verifications/{verification_id}")
    links = (answer or {}).get("certificate") if status == 200 else None
    if not links:
        return None
    path = links["pdf"].split(f":{port}", 1)[-1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.read() if answer.status == 200 else None
    finally:
        conn.close()
