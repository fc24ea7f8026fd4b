"""A small, real API world for schemathesis: a court with a token, records, verifications.

The court API waits for the ledger, so the sequencer loop runs in a thread (at a short
period) and the tests use committed transactions it can see (transactional_db).
"""

import io
import threading
import uuid
from dataclasses import dataclass, field

import pytest
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from anchoring import sequencer
from documents import codes, ledger, registration
from documents.models import Court, CourtToken, Record
from verification.models import Verification
from verification.tasks import verify


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Known defects (a module's KNOWN_DEFECTS, by item name) are strict expected failures.

    schemathesis makes one item per operation, named `test_x[METHOD /path]`. The xfail
    marker cannot be used on them: schemathesis's pytest plugin crashes (INTERNALERROR)
    on a strict XPASS, a report that failed without an exception. So the same rule is
    applied here: failing is an xfail, passing a failure asking for the entry's removal.
    """
    defects = getattr(getattr(item, "module", None), "KNOWN_DEFECTS", {})
    if item.name not in defects:
        return (yield)
    reason = f"{item.name}: {defects[item.name]}"
    try:
        yield
    except (Exception, pytest.fail.Exception):
        pytest.xfail(reason)
    pytest.fail(f"[XPASS(strict)] {reason}\nFixed: remove it from KNOWN_DEFECTS.", pytrace=False)


@pytest.fixture
def running_sequencer(settings, transactional_db):
    settings.LEDGER_SEQUENCER = "off"
    settings.LEDGER_BATCH_PERIOD = 0.05
    stop = threading.Event()
    # A daemon, so that a sequencer stuck on the database cannot keep pytest alive.
    thread = threading.Thread(target=sequencer.run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


@pytest.fixture
def persistent_connection(monkeypatch):
    """Keep the test thread's database connection across the in-process requests.

    Each WSGI request ends by closing a connection whose CONN_MAX_AGE is 0, so every
    case would connect anew: slow, and a shared PostgreSQL refusing new clients would
    show up as the portal's 500s.
    """
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)


@pytest.fixture
def unthrottled(settings, monkeypatch):
    """A private cache for the throttles, and rates no fuzzing run reaches.

    DRF binds ScopedRateThrottle.THROTTLE_RATES when it is imported, so overriding
    REST_FRAMEWORK in settings does not reach it: the class attribute is patched.
    The private cache keeps the runs off the shared Redis counters of 127.0.0.1.
    """
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tests-api",
        }
    }
    rates = ScopedRateThrottle.THROTTLE_RATES
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", dict.fromkeys(rates, "100000/minute"))


@dataclass
class World:
    token: str
    # Real values of path parameters, by name; the first is the one to use when only
    # one is: for `code`, the kept file (the events operation uses `served_code`).
    path_values: dict[str, list[str]] = field(default_factory=dict)
    served_code: str = ""

    def real_path_value(self, name: str, path: str) -> str | None:
        if name == "code" and path.endswith("/events"):
            return self.served_code
        values = self.path_values.get(name)
        return values[0] if values else None

    def headers(self, method: str, path: str) -> dict[str, str]:
        """The court token for the court API, and a fresh Idempotency-Key on its POSTs.

        The key is the header docs/api.md offers to courts' systems (the schema does not
        list it); fresh each time, so every request runs as a first one.
        """
        if not path.startswith("/api/v1/records"):
            return {}
        headers = {"Authorization": f"Token {self.token}"}
        if method.upper() == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        return headers


@pytest.fixture
def world(running_sequencer, unthrottled, persistent_connection, settings, tmp_path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    court = Court.objects.create(
        code="BJ0105", name_zh="北京市朝阳区人民法院", name_en="Chaoyang Court"
    )
    _, token = CourtToken.issue(court, "schemathesis")
    # A kept file the court may serve, and a litigation document recorded by its digests.
    content = "聊天记录 chat log".encode() * 50
    kept = registration.register(
        registration.NewRecord(
            court=court,
            category=Record.Category.EVIDENCE,
            title="聊天记录",
            file=io.BytesIO(content),
            filename="chat.txt",
            allow_download=True,
        )
    )
    served = registration.register(
        registration.NewRecord(
            court=court,
            category=Record.Category.LITIGATION_DOCUMENT,
            title="民事判决书",
            case_number="（2026）京0105民初1号",
            parties=["张三", "李四"],
            sha256=bytes.fromhex("ab" * 32),
            sm3=bytes.fromhex("cd" * 32),
        )
    )
    for record in (kept, served):
        ledger.await_ledger(record)
    # A finished verification (steps, record face), a pending one, and a batch.
    client = Client()
    body = client.post(
        "/api/v1/verifications", {"sha256": kept.sha256}, content_type="application/json"
    ).json()
    verify(body["id"])
    pending = Verification.objects.create(source=Verification.Source.DIGEST, sha256="ef" * 32)
    batch = client.post(
        "/api/v1/verifications/batch",
        {"items": [{"sha256": kept.sha256}, {"sha256": "01" * 32}]},
        content_type="application/json",
    ).json()
    return World(
        token=token,
        served_code=codes.display(served.code),
        path_values={
            "code": [codes.display(kept.code), codes.display(served.code)],
            "verification_id": [body["id"], pending.id],
            "batch": [batch["batch"]],
        },
    )
