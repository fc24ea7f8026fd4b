"""The batch page without a browser: the form, its refusals, the table, the CSV and the PDF
report, and a record changed in the database that never turns into "verified"."""

import codecs
import csv
import io
import json
import re
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from anchoring.digest import digests
from tests.court_ledger import sha
from tests.tampering.conftest import superuser_sql
from verification import batch_report

pytestmark = pytest.mark.django_db(transaction=True)

FORGED = b"a forged chat log"
STRANGER = b"a file no court recorded"


def _browser(position: int, name: str, content: bytes) -> str:
    """A file hashed in the browser, as the page's script sends it."""
    sha256, sm3 = digests(content)
    return json.dumps(
        {
            "position": position,
            "name": name,
            "size": len(content),
            "sha256": sha256.hex(),
            "sm3": sm3.hex(),
        }
    )


def _check(client, files: list, hashed: list[str] = (), **headers):
    return client.post("/batch/check", {"file": files, "digest": list(hashed)}, **headers)


def _rows(page: str) -> list[tuple[str, str]]:
    """(file, outcome) of each row of the table."""
    return re.findall(
        r'<tr data-row data-outcome="(\w+)">\s*<td[^>]*>\d+</td>\s*<td[^>]*>([^<]*)</td>', page
    )


def _csv(client, batch: str) -> list[dict]:
    response = client.get(f"/batch/{batch}/report.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="batch-{batch}.csv"'
    data = response.content
    assert data.startswith(codecs.BOM_UTF8)  # Excel reads the Chinese right
    rows = list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"))))
    assert list(rows[0]) == batch_report.COLUMNS
    return rows


def _pdf_text(client, batch: str, tmp_path) -> str:
    response = client.get(f"/batch/{batch}/report.pdf")
    assert response["Content-Type"] == "application/pdf"
    path = tmp_path / "report.pdf"
    path.write_bytes(response.content)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_a_batch_of_uploads_and_browser_digests_gives_one_table_a_csv_and_a_report(
    client, ledger, tmp_path
):
    form = client.get("/batch").content.decode()
    assert re.search(r'<input type="file" name="file" id="batch-files" multiple', form)
    assert 'action="/batch/check"' in form

    response = _check(
        client,
        [
            SimpleUploadedFile("聊天记录.txt", ledger.evidence_bytes),
            SimpleUploadedFile("empty.txt", b""),
            SimpleUploadedFile("stranger.txt", STRANGER),
        ],
        # The judgment hashed in the browser, given second.
        [_browser(1, "判决书.pdf", ledger.judgment_pdf)],
    )
    assert response.status_code == 302
    batch = response["Location"].rsplit("/", 1)[-1]

    page = client.get(response["Location"]).content.decode()
    assert _rows(page) == [
        ("verified", "聊天记录.txt"),
        ("verified", "判决书.pdf"),
        ("not_found", "stranger.txt"),
    ]
    assert "“empty.txt” 是空文件，未予核验。" in page  # named; the others still checked
    assert "核验通过" in page and "北京市朝阳区人民法院" in page
    assert page.count("/c/") >= 3 and page.count("/verifications/") >= 3

    rows = _csv(client, batch)
    assert [(r["position"], r["file"], r["outcome"]) for r in rows] == [
        ("1", "聊天记录.txt", "verified"),
        ("2", "判决书.pdf", "verified"),
        ("3", "stranger.txt", "not_found"),
    ]
    evidence, judgment, stranger = rows
    assert evidence["sha256"] == sha(ledger.evidence_bytes) and evidence["size"] == str(
        len(ledger.evidence_bytes)
    )
    assert evidence["court_code"] == "BJ0105" and evidence["court_zh"] == "北京市朝阳区人民法院"
    assert judgment["record_code"] and judgment["outcome_en"] == "Verified"
    assert evidence["certificate_url"].endswith(f"/c/{evidence['certificate_number']}")
    assert stranger["record_code"] == "" and stranger["outcome_zh"] == "未找到"

    text = _pdf_text(client, batch, tmp_path)
    assert "批量核验报告" in text and "Batch verification report" in text
    for name in ("聊天记录.txt", "判决书.pdf", "stranger.txt", judgment["certificate_number"]):
        assert name in text
    assert text.count("Verified") >= 2 and "Not found" in text
    assert f"size {evidence['tree_size']}" in text  # the checkpoint checked against
    pages = text.count("\f")  # pdftotext ends each page with a form feed
    assert f"批量 Batch {batch} · 第 {pages} / {pages} 页 page" in text

    english = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Outcomes of the batch" in english and "Chaoyang Court" in english
    assert "核验通过" not in english


def test_a_record_changed_in_the_database_never_shows_as_verified(client, ledger, tmp_path):
    checked = _check(client, [SimpleUploadedFile("chat.txt", ledger.evidence_bytes)])
    batch = checked["Location"].rsplit("/", 1)[-1]
    assert _rows(client.get(checked["Location"]).content.decode()) == [("verified", "chat.txt")]
    api = f"/api/v1/verifications/batch/{batch}"
    assert [i["outcome"] for i in client.get(api).json()["items"]] == ["verified"]

    # An attacker points the record's digest column at a forged file.
    superuser_sql(
        "UPDATE documents_record SET sha256 = %s WHERE id = %s", [sha(FORGED), ledger.evidence.pk]
    )
    page = client.get(checked["Location"]).content.decode()
    assert _rows(page) == [("disagrees", "chat.txt")]
    assert [r["outcome"] for r in _csv(client, batch)] == ["disagrees"]
    assert [i["outcome"] for i in client.get(api).json()["items"]] == ["conflict"]
    text = _pdf_text(client, batch, tmp_path)
    assert "Disagrees" in text and "Verified" not in text.split("Files", 1)[-1]

    forged = _check(
        client,
        [
            SimpleUploadedFile("forged.txt", FORGED),
            SimpleUploadedFile("chat.txt", ledger.evidence_bytes),
        ],
    )
    outcomes = _rows(client.get(forged["Location"]).content.decode())
    assert outcomes == [("not_found", "forged.txt"), ("disagrees", "chat.txt")]


@pytest.mark.django_db  # nothing is started: no need to commit
def test_bad_batches_are_refused_in_the_readers_language(client, settings):
    settings.VERIFY_BATCH_PAGE_MAX_FILES = 2
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(3)]
    refused = _check(client, files, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "a batch takes at most 2" in page and 'aria-invalid="true"' in page

    # The page's script keeps its list of files and is answered the reasons as JSON.
    too_many = _check(
        client, [], [_browser(i, f"f{i}", b"x") for i in range(3)], HTTP_X_UPLOAD_PROGRESS="1"
    )
    assert too_many.status_code == 400
    assert too_many.json() == {"errors": ["您选择了 3 个文件，每批最多 2 个。请分批核验。"]}

    empty = _check(client, [SimpleUploadedFile("empty.txt", b"")], HTTP_ACCEPT_LANGUAGE="en")
    assert empty.status_code == 400 and "“empty.txt” is empty" in empty.content.decode()
    nothing = _check(client, [], HTTP_ACCEPT_LANGUAGE="en")
    assert nothing.status_code == 400 and "Choose at least one file." in nothing.content.decode()

    settings.VERIFY_BATCH_PAGE_MAX_UPLOAD = 10
    large = _check(client, [SimpleUploadedFile("big.bin", b"y" * 11)], HTTP_ACCEPT_LANGUAGE="en")
    assert large.status_code == 413 and "more than 10" in large.content.decode()

    assert client.get("/batch/no-such-batch").status_code == 404
    assert client.get("/batch/no-such-batch/report.csv").status_code == 404


def test_a_checkpoint_written_into_the_database_is_not_listed_as_checked_against(client, ledger):
    from verification.models import Verification, VerificationStep

    checked = _check(client, [SimpleUploadedFile("chat.txt", ledger.evidence_bytes)])
    batch = checked["Location"].rsplit("/", 1)[-1]
    genuine = VerificationStep.objects.get(verification__batch=batch, name="checkpoint").detail
    page = client.get(checked["Location"]).content.decode()
    assert genuine["root_hash"] in page

    # An attacker adds a step naming a checkpoint the ledger never published.
    forged = {**genuine, "root_hash": "ab" * 32}
    VerificationStep.objects.create(
        verification=Verification.objects.get(batch=batch),
        position=99,
        name="checkpoint",
        status=VerificationStep.Status.PASSED,
        explanation_zh="伪造",
        explanation_en="forged",
        detail=forged,
    )
    page = client.get(checked["Location"]).content.decode()
    assert genuine["root_hash"] in page and forged["root_hash"] not in page
