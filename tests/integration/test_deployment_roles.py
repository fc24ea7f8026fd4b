"""The deployment of docker/compose.yaml, each process as its own database role.

gunicorn and a Celery worker (verifications and certificates) connect as the web role
and hold no ledger key, only its verifier key; `manage.py sequencer` connects as the
sequencer's role. A court records a file and serves it, the addressee opens it, the public
verifies it and gets a certificate: every write those take must be granted, and the
ledger must still grow only through the sequencer.
"""

import http.client
import json
import secrets
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from anchoring import keys
from anchoring.models import Alarm
from documents import codes, db_roles
from documents.models import Record, ServiceEvent, TokenUse
from tests.database_roles import database_url, granted_roles
from tests.processes import ROOT, environment, free_port, running
from tests.receipts import verify_ledger
from verification.models import Certificate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BROKER_DB = 11  # a Redis database of its own, emptied before the test


def _request(port, method, path, body=None, *, token=None, form=False, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Token {token}"
    if form:
        sent["Content-Type"] = MULTIPART_CONTENT
        body = encode_multipart(BOUNDARY, body)
    elif body is not None:
        body = json.dumps(body)
    conn.request(method, path, body, sent)
    answer = conn.getresponse()
    status, data, location = answer.status, answer.read(), answer.getheader("Location")
    conn.close()
    return status, data, location


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def deployment(tmp_path, settings):
    """The processes of docker/compose.yaml on this test's database; the web port and the
    web role's environment."""
    keys.signer()  # the sequencer's key file exists before it starts
    with granted_roles() as roles:
        port = free_port()
        broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + f"/{BROKER_DB}"
        redis.Redis.from_url(broker).flushdb()
        common = {
            "CELERY_BROKER_URL": broker,
            "LEDGER_SEQUENCER": "off",
            "LEDGER_BATCH_PERIOD": "0.1",
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
        web_env = environment(
            **common,
            DATABASE_URL=database_url(roles.web),
            # Only the sequencer holds the signing key; the others pin its verifier key.
            LEDGER_SIGNING_KEY_FILE=str(tmp_path / "no-ledger-key"),
            LEDGER_GENERATE_KEY="0",
            LEDGER_VERIFIER_KEY=keys.vkey(),
            WEB_BIND=f"127.0.0.1:{port}",
            WEB_WORKERS="1",
            WEB_ACCESS_LOG="",
        )
        sequencer_env = environment(**common, DATABASE_URL=database_url(roles.sequencer))
        celery = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "WARNING"]
        web = [
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "-c", "docker/gunicorn.conf.py"],
            [*celery, "--queues", "portal,certificates", "--pool", "threads", "--concurrency", "4"],
        ]
        log = tmp_path / "processes.log"
        with (
            running(web, web_env, log),
            running([[sys.executable, "manage.py", "sequencer"]], sequencer_env, log),
        ):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if _request(port, "GET", "/ledger/checkpoint")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            yield port, web_env, roles, log


def _until(check, log, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    return value


def test_a_court_file_recorded_served_and_verified_with_least_privilege(deployment):
    port, web_env, roles, log = deployment
    _manage(
        web_env,
        "court_create",
        "--code",
        "BJ0105",
        "--name-zh",
        "朝阳法院",
        "--name-en",
        "Chaoyang",
    )
    token = _manage(web_env, "court_token", "BJ0105").strip()
    content = "聊天记录 chat log, kept for download".encode() * 20
    fields = {
        "category": "litigation_document",
        "title": "民事判决书",
        "case_number": "（2026）京0105民初1号",
        "parties": ["张三", "李四"],
        "allow_download": "true",
        "file": SimpleUploadedFile("judgment.txt", content, "text/plain"),
    }
    status, body, _ = _request(
        port,
        "POST",
        "/api/v1/records",
        fields,
        token=token,
        form=True,
        headers={"Idempotency-Key": "first"},
    )
    assert status == 201, body
    record = json.loads(body)
    verify_ledger(record["ledger"])
    events = f"/api/v1/records/{record['code']}/events"
    assert _request(port, "POST", events, {"event": "issued"}, token=token)[0] == 201
    status, body, _ = _request(
        port, "POST", events, {"event": "sent", "channel": "sms", "addressee": "李四"}, token=token
    )
    assert status == 201, body
    link = urlsplit(json.loads(body)["service_link"]).path
    assert _request(port, "GET", f"{link}/document")[0] == 200  # the addressee opens it

    upload = {"file": SimpleUploadedFile("received.txt", content)}
    status, body, location = _request(port, "POST", "/api/v1/verifications", upload, form=True)
    assert status == 202, body

    def finished():
        answer = json.loads(_request(port, "GET", location)[1])
        return answer if answer["status"] == "done" and answer["certificate"] else None

    answer = _until(finished, log)
    assert answer["outcome"] == "verified", answer
    status, pdf, _ = _request(port, "GET", urlsplit(answer["certificate"]["pdf"]).path)
    assert status == 200 and pdf.startswith(b"%PDF-")
    status, body, _ = _request(port, "GET", "/health")
    assert status == 200, body

    stored = Record.objects.get(code=codes.normalize(record["code"]))
    assert stored.ledger_index == record["ledger"]["index"]
    _until(lambda: not ServiceEvent.objects.filter(ledger_index=None).exists(), log)
    assert ServiceEvent.objects.filter(record=stored).count() == 3  # issued, sent, opened
    _until(TokenUse.objects.exists, log)  # written in bulk, within COURT_AUDIT_FLUSH_SECONDS
    assert Certificate.objects.exists()
    assert not Alarm.objects.exists()
    assert db_roles.problems(connection, roles) == []


def test_the_migrate_service_runs_as_the_owner_of_a_database_of_its_own():
    """docker/compose.yaml's path: postgres-init.sh makes the roles and gives the owner the
    database; the owner migrates and applies the grants with no superuser's help."""
    suffix = secrets.token_hex(4)
    roles = db_roles.Roles(f"owner_{suffix}", f"web_{suffix}", f"sequencer_{suffix}")
    name = f"portal_roles_{suffix}"
    db = connection.settings_dict
    admin = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    )
    quoted = [db_roles.quote(r) for r in (roles.owner, roles.web, roles.sequencer)]
    try:
        for role in quoted:
            admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"CREATE DATABASE {name} OWNER {quoted[0]}")
        env = environment(
            DATABASE_OWNER_ROLE=roles.owner,
            DATABASE_WEB_ROLE=roles.web,
            DATABASE_SEQUENCER_ROLE=roles.sequencer,
        )

        def as_role(role: str) -> dict:
            return {**env, "DATABASE_URL": f"postgres://{role}@{db['HOST']}:{db['PORT']}/{name}"}

        _manage(as_role(roles.owner), "migrate", "--noinput")
        assert "exactly their privileges" in _manage(as_role(roles.owner), "db_roles", "--apply")
        assert "exactly their privileges" in _manage(as_role(roles.owner), "db_roles", "--apply")
        refused = subprocess.run(
            [sys.executable, "manage.py", "db_roles", "--apply"],
            env=as_role(roles.web),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode != 0 and "permission denied" in refused.stderr
        with psycopg.connect(host=db["HOST"], port=db["PORT"], user=roles.web, dbname=name) as web:
            owners = web.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            assert owners == [(roles.owner,)]
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {', '.join(quoted)}")
        admin.close()
