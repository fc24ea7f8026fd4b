"""Certificates on demand: a verification's answer queues no certificate job and links its
certificate at once; the first download renders it, later ones serve the kept file;
concurrent first downloads render it once; retention deletes it and a later download
renders it again with the same number and facts."""

import json
import subprocess
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from anchoring.backend import BackendUnavailable
from documents import codes
from tests.court_ledger import check, sha
from verification import certificate, tasks
from verification.models import Certificate, Verification


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """The verification id of every certificate rendered from now on."""
    made: list[str] = []
    real = certificate._make

    def counted(v, backend):
        made.append(v.pk)
        return real(v, backend)

    monkeypatch.setattr(certificate, "_make", counted)
    return made


def _text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", path, "-"], capture_output=True, text=True
    ).stdout


def test_a_verification_queues_no_certificate_job_and_links_its_certificate_at_once(
    ledger, client, renders
):
    with mock.patch.object(tasks.issue_certificate, "apply_async") as queued:
        answer = client.post(
            "/api/v1/verifications",
            {"sha256": ledger.judgment.sha256},
            content_type="application/json",
        ).json()
        assert answer["status"] == "done" and answer["outcome"] == "verified"
        queued.assert_not_called()
    v = Verification.objects.get(pk=answer["id"])
    number = codes.display(v.certificate_number)
    assert answer["certificate"]["number"] == number
    assert answer["certificate"]["pdf"].endswith(f"/c/{number}/certificate.pdf")
    assert not Certificate.objects.exists() and renders == []
    # A later read of the same verification links the same certificate.
    again = client.get(f"/api/v1/verifications/{v.pk}").json()
    assert again["certificate"] == answer["certificate"]


def test_the_first_download_renders_and_later_ones_serve_the_kept_file(ledger, client, renders):
    v = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    number = codes.display(v.certificate_number)
    first = client.get(f"/c/{number}/certificate.pdf")
    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    pdf = b"".join(first.streaming_content)
    assert pdf.startswith(b"%PDF-") and renders == [v.pk]
    kept = Certificate.objects.get(verification=v)
    assert kept.number == v.certificate_number
    second = client.get(f"/c/{number}/certificate.pdf")
    assert b"".join(second.streaming_content) == pdf
    bundle = client.get(f"/c/{number}/bundle.json")
    assert bundle.content == kept.bundle.encode()
    assert json.loads(bundle.content)["certificate"]["number"] == number
    assert renders == [v.pk]  # served twice more, rendered once


def test_the_bundle_alone_also_renders_the_certificate_once(ledger, client, renders):
    v = check(sha256=sha(ledger.evidence_bytes))
    number = codes.display(v.certificate_number)
    bundle = client.get(f"/c/{number}/bundle.json")
    assert bundle.status_code == 200 and renders == [v.pk]
    pdf = client.get(f"/c/{number}/certificate.pdf")
    from verification import pades

    attached = pades.embedded_file(b"".join(pdf.streaming_content), "proof-bundle.json")
    assert attached == bundle.content and renders == [v.pk]


def test_concurrent_first_downloads_render_once(ledger, monkeypatch):
    v = check(sha256=sha(ledger.judgment_pdf))
    number = codes.display(v.certificate_number)
    real, calls = certificate._make, []

    def slow(verification, backend):  # a window in which a second request would render
        calls.append(verification.pk)
        made = real(verification, backend)
        threading.Event().wait(0.3)
        return made

    monkeypatch.setattr(certificate, "_make", slow)
    bodies: list[bytes] = []
    errors: list[BaseException] = []

    def download() -> None:
        try:
            response = Client().get(f"/c/{number}/certificate.pdf")
            bodies.append(b"".join(response.streaming_content))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=download) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(bodies) == 6 and len(set(bodies)) == 1 and bodies[0].startswith(b"%PDF-")
    assert calls == [v.pk]
    assert Certificate.objects.filter(verification=v).count() == 1


def test_retention_deletes_old_pdfs_and_a_later_download_renders_the_same_certificate(
    ledger, client, settings, renders, tmp_path
):
    settings.CERTIFICATE_RETENTION_DAYS = 30
    old = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    recent = check(sha256=sha(ledger.evidence_bytes))
    number = codes.display(old.certificate_number)
    first = b"".join(client.get(f"/c/{number}/certificate.pdf").streaming_content)
    client.get(f"/c/{codes.display(recent.certificate_number)}/certificate.pdf")
    kept = Certificate.objects.get(verification=old)
    path, first_bundle = kept.pdf.path, json.loads(kept.bundle)
    Certificate.objects.filter(pk=kept.pk).update(created_at=timezone.now() - timedelta(days=31))

    assert tasks.expire_certificates() == 1
    assert not Certificate.objects.filter(verification=old).exists()
    assert Certificate.objects.filter(verification=recent).exists()  # younger: kept
    import os

    assert not os.path.exists(path)

    again = client.get(f"/c/{number}/certificate.pdf")
    assert again.status_code == 200
    second = b"".join(again.streaming_content)
    assert renders == [old.pk, recent.pk, old.pk]
    rendered = Certificate.objects.get(verification=old)
    assert rendered.number == old.certificate_number
    second_bundle = json.loads(rendered.bundle)
    # The same facts: only the issue time (and the signature's time) differ.
    assert first_bundle["certificate"].pop("issued_at") != ""
    second_bundle["certificate"].pop("issued_at")
    assert first_bundle == second_bundle
    assert _text(first, tmp_path) == _text(second, tmp_path)
    assert second != first


def test_the_result_page_renders_the_certificate_ahead_for_the_person_looking(
    ledger, client, settings
):
    v = check(sha256=sha(ledger.evidence_bytes))
    number = codes.display(v.certificate_number)
    with mock.patch.object(tasks.issue_certificate, "apply_async") as queued:
        page = client.get(f"/verifications/{v.pk}").content.decode()
    assert f'data-certificate="{number}"' in page and 'http-equiv="refresh"' not in page
    assert queued.call_count == 1 and queued.call_args.args[0] == (v.pk,)
    # Once it is kept, looking again queues nothing.
    tasks.issue_certificate.apply(args=[v.pk])
    with mock.patch.object(tasks.issue_certificate, "apply_async") as queued:
        client.get(f"/verifications/{v.pk}")
    queued.assert_not_called()
    # In-process (the embedded default), the download renders it: nothing is queued.
    other = check(sha256=sha(ledger.judgment_pdf))
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with mock.patch.object(tasks.issue_certificate, "apply_async") as queued:
        client.get(f"/verifications/{other.pk}")
    queued.assert_not_called()


def test_unknown_and_unfinished_numbers_are_not_found(ledger, client):
    pending = Verification.objects.create(source="digest", sha256="ab" * 32)
    number = codes.display(pending.certificate_number)
    assert client.get(f"/c/{number}").status_code == 404
    assert client.get(f"/c/{number}/certificate.pdf").status_code == 404
    assert client.get(f"/c/{number}/bundle.json").status_code == 404
    assert client.get("/c/7K3M9Q-XD4RTW-2HVBPZ/certificate.pdf").status_code == 404
    assert not Certificate.objects.exists()


def test_a_ledger_out_of_reach_answers_503_and_a_later_download_renders(
    ledger, client, monkeypatch
):
    v = check(sha256=sha(ledger.evidence_bytes))
    number = codes.display(v.certificate_number)

    class Down:
        def __getattr__(self, name):
            raise BackendUnavailable("the ledger is down")

    monkeypatch.setattr(certificate, "get_backend", Down)
    refused = client.get(f"/c/{number}/certificate.pdf")
    assert refused.status_code == 503 and refused["Retry-After"]
    assert "暂时无法生成核验证书" in refused.content.decode()
    assert not Certificate.objects.exists()
    monkeypatch.undo()
    assert client.get(f"/c/{number}/certificate.pdf").status_code == 200


def test_the_certificate_page_shows_before_the_pdf_is_rendered(ledger, client, renders):
    v = check(sha256=sha(ledger.evidence_bytes))
    number = codes.display(v.certificate_number)
    page = client.get(f"/c/{number}")
    assert page.status_code == 200 and "开发用证书" in page.content.decode()
    assert renders == []
    assert client.get(f"/c/{v.certificate_number.lower()}").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_every_verification_keeping_issued_certificates_numbers():
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        [("verification", "0004_requeue_sweeper")],
        [("verification", "0005_certificate_number")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    issued = old.get_model("verification", "Verification").objects.create(
        id="issued", source="digest", status="done"
    )
    old.get_model("verification", "Certificate").objects.create(
        number="KEEPTHISNUMBER0001", verification=issued, pdf="certificates/x.pdf", bundle="{}"
    )
    for i in range(3):
        old.get_model("verification", "Verification").objects.create(id=f"v{i}", source="digest")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the other tests use
    numbers = dict(Verification.objects.values_list("id", "certificate_number"))
    assert numbers["issued"] == "KEEPTHISNUMBER0001"
    assert len(set(numbers.values())) == 4
    assert all(codes.normalize(n) == n for n in numbers.values() if n != "KEEPTHISNUMBER0001")


def test_a_process_busy_rendering_answers_503_soon_and_renders_later(ledger, client, settings):
    settings.CERTIFICATE_RENDER_WAIT = 0.05
    v = check(sha256=sha(ledger.evidence_bytes))
    number = codes.display(v.certificate_number)
    slots, taken = certificate._slots(), 0
    while slots.acquire(blocking=False):  # every render slot of this process in use
        taken += 1
    try:
        refused = client.get(f"/c/{number}/certificate.pdf")
    finally:
        for _ in range(taken):
            slots.release()
    assert refused.status_code == 503 and refused["Retry-After"] == "5"
    assert "正忙于生成其他证书" in refused.content.decode()
    assert client.get(f"/c/{number}/certificate.pdf").status_code == 200
