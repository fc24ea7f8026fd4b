"""Every outcome through the API and through the pages, run by a real Celery worker
process on Redis and PostgreSQL, with the ledger sequencer as a process of its own."""

import time

import pytest

from tests.court_ledger import sha
from tests.processes import worker_and_sequencer
from verification.models import Verification

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def worker(ledger, tmp_path):
    with worker_and_sequencer(tmp_path):
        yield


def _finished(client, url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(url).json()
        if body["status"] == "done":
            return body
        assert time.monotonic() < deadline, f"verification still {body['status']}"
        time.sleep(0.1)


def _upload(content: bytes, name: str = "file.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


@pytest.mark.parametrize(
    "case, outcome",
    [("judgment", "verified"), ("unknown", "not_found"), ("changed", "mismatch")],
)
def test_each_outcome_through_the_api(client, ledger, worker, case, outcome):
    content = {
        "judgment": ledger.judgment_pdf,
        "unknown": b"never recorded",
        "changed": ledger.judgment_pdf[:-1] + b"X",
    }[case]
    data = {"file": _upload(content)}
    if case == "changed":
        data["code"] = ledger.judgment.code
    response = client.post("/api/v1/verifications", data)
    assert response.status_code == 202, response.content
    assert response["Location"].startswith("/api/v1/verifications/")
    body = _finished(client, response["Location"])
    assert body["outcome"] == outcome
    assert body["sha256"] == sha(content)
    assert all({"name", "status", "explanation"} <= set(step) for step in body["steps"])
    assert all(step["explanation"]["zh"] and step["explanation"]["en"] for step in body["steps"])
    if outcome != "not_found":
        assert body["record"]["code"]
        assert "*" in body["record"]["case_number"]  # the public face is masked
    # The worker then renders and signs the certificate; the answer links it.
    deadline = time.monotonic() + 30
    while (links := client.get(response["Location"]).json()["certificate"]) is None:
        assert time.monotonic() < deadline, "no certificate 30 s after the verification"
        time.sleep(0.2)
    pdf = client.get(links["pdf"])
    assert pdf.status_code == 200
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-")
    page = client.get(links["url"]).content.decode()
    assert links["number"] in page and f'data-outcome="{outcome}"' in page


def test_digest_json_and_batch_through_the_api(client, ledger, worker):
    response = client.post(
        "/api/v1/verifications",
        {"sha256": sha(ledger.evidence_bytes)},
        content_type="application/json",
    )
    assert _finished(client, response["Location"])["outcome"] == "verified"

    items = [
        {"sha256": sha(ledger.judgment_pdf)},
        {"sha256": sha(b"nothing")},
        {"sha256": sha(ledger.anchored)},
    ]
    batch = client.post(
        "/api/v1/verifications/batch", {"items": items}, content_type="application/json"
    )
    assert batch.status_code == 202
    deadline = time.monotonic() + 30
    while not (result := client.get(batch["Location"]).json())["done"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert [i["outcome"] for i in result["items"]] == ["verified", "not_found", "verified"]


def test_the_ledger_down_is_inconclusive_through_the_api(client, ledger, tmp_path, settings):
    from tests.processes import celery_worker, environment, running

    env = environment(
        LEDGER_BACKEND="http", LEDGER_BACKEND_URL="http://127.0.0.1:1", VERIFY_MAX_RETRIES="1"
    )
    # The web side reads the same unreachable ledger, so the digest goes to the worker.
    settings.LEDGER_BACKEND, settings.LEDGER_BACKEND_URL = "http", "http://127.0.0.1:1"
    worker = [celery_worker("--pool", "solo", "--loglevel", "WARNING")]
    with running(worker, env, tmp_path / "worker.log"):
        response = client.post(
            "/api/v1/verifications",
            {"sha256": sha(ledger.judgment_pdf)},
            content_type="application/json",
        )
        body = _finished(client, response["Location"], timeout=60)
    assert body["outcome"] == "inconclusive"
    v = Verification.objects.get(pk=body["id"])
    assert v.attempts == 2  # the first try and one retry, with backoff, then inconclusive


@pytest.mark.parametrize(
    "case, outcome, title",
    [
        ("judgment", "verified", "核验通过"),
        ("unknown", "not_found", "未找到登记记录"),
        ("changed", "mismatch", "与登记文件不一致"),
    ],
)
def test_each_outcome_through_the_pages(client, ledger, worker, case, outcome, title):
    content = {
        "judgment": ledger.judgment_pdf,
        "unknown": b"never recorded",
        "changed": ledger.judgment_pdf[:-1] + b"X",
    }[case]
    data = {"file": _upload(content, "received.pdf")}
    if case == "changed":
        data["code"] = ledger.judgment.code
    response = client.post("/verify", data)
    assert response.status_code == 302
    page_url = response["Location"]
    deadline = time.monotonic() + 30
    while 'http-equiv="refresh"' in (page := client.get(page_url).content.decode()):
        # Checking, or done and waiting for the certificate job.
        assert "正在核验" in page or "正在生成签名的核验证书" in page
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert f'data-outcome="{outcome}"' in page
    assert title in page
    assert "received.pdf" in page
    assert "data-certificate=" in page  # the refreshing stopped when the certificate came
