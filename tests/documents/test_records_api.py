"""The court API: recording files, reading them back, and everything it must refuse."""

import hashlib
import subprocess

import pytest
import zxingcpp
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from anchoring import merkle
from anchoring.leaf import Kind, decode
from anchoring.models import Entry, Submission
from documents import codes, entries
from documents.models import Record, TokenUse
from tests.documents.conftest import upload
from tests.receipts import verify_ledger


def _verify_ledger(ledger: dict, sha256: str) -> Entry:
    """The answer's ledger block proves inclusion of an entry with this digest."""
    assert verify_ledger(ledger).size == ledger["tree_size"]
    entry = Entry.objects.get(index=ledger["index"])
    assert merkle.leaf_hash(bytes(entry.data)).hex() == ledger["leaf_hash"]
    assert bytes(entry.sha256).hex() == sha256
    return entry


def test_record_a_file_and_get_a_verifiable_receipt(owner, court):
    content = "聊天记录 chat log".encode() * 100
    response = owner.post(
        "/api/v1/records",
        {
            "file": upload(content, "chat.txt"),
            "category": "evidence",
            "title": "聊天记录",
            "case_number": "（2026）京0105民初1号",
            "parties": ["张三", "李四"],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size"] == len(content)
    assert body["verification_url"] == f"http://127.0.0.1:8000/v/{body['code']}"
    assert codes.normalize(body["code"])
    assert body["stamped_file"] is None
    assert body["parties"] == ["张三", "李四"]
    entry = _verify_ledger(body["ledger"], body["sha256"])
    leaf = decode(bytes(entry.data))
    fields = dict(leaf.fields)
    assert leaf.kind == Kind.RECORD
    assert fields[entries.RECORD_CATEGORY] == bytes([entries.Category.EVIDENCE])
    assert fields[entries.RECORD_COURT] == b"BJ0105"
    assert fields[entries.RECORD_CODE].decode() == codes.normalize(body["code"])
    # No personal data in the leaf: neither party names nor the title.
    for secret in ("张三", "李四", "聊天记录"):
        assert secret.encode() not in bytes(entry.data)
    # The file itself is not kept unless the court allows downloads.
    assert not Record.objects.get().file


def test_record_by_digests_when_the_court_keeps_the_file(owner):
    response = owner.post(
        "/api/v1/records",
        {"sha256": "AB" * 32, "sm3": "cd" * 32, "category": "mediation", "title": "调解协议"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sha256"], body["sm3"], body["size"]) == ("ab" * 32, "cd" * 32, None)
    _verify_ledger(body["ledger"], "ab" * 32)


def test_stamped_pdf_carries_a_readable_qr_code_and_is_what_the_ledger_holds(
    owner, judgment_pdf, tmp_path
):
    response = owner.post(
        "/api/v1/records",
        {
            "file": upload(judgment_pdf),
            "category": "litigation_document",
            "title": "民事判决书",
            "stamp": "true",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    stamped = owner.get(body["stamped_file"])
    assert stamped.status_code == 200
    pdf = tmp_path / "stamped.pdf"
    pdf.write_bytes(b"".join(stamped.streaming_content))

    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == body["sha256"]
    assert pdf.read_bytes().startswith(judgment_pdf)  # an incremental update of the original
    subprocess.run(["qpdf", "--check", str(pdf)], check=True, capture_output=True)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    for page in ("page-1.png", "page-2.png"):
        found = subprocess.run(
            ["zbarimg", "--quiet", "--raw", str(tmp_path / page)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert found == [body["verification_url"]]
    # An independent second reader, which also says where the code is: at 150 dpi its
    # modules must span at least 25 mm, what a phone needs from a printed page.
    [found] = zxingcpp.read_barcodes(Image.open(tmp_path / "page-1.png"))
    assert found.text == body["verification_url"]
    width_px = found.position.top_right.x - found.position.top_left.x
    assert width_px / 150 * 25.4 >= 25
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert body["code"] in text
    # The stamp's two lines, as poppler lays them out: legible (10 pt at least: the CJK
    # font's boxes are 1.45 em tall), clear of each other and of the QR code on their left.
    boxes = _stamp_lines(pdf, body["code"])
    assert len(boxes) == 2 and all(y1 - y0 >= 14 for _, y0, _, y1 in boxes), boxes
    (_, _, _, first_bottom), (_, second_top, _, _) = sorted(boxes, key=lambda b: b[1])
    assert first_bottom <= second_top, boxes
    qr_right_pt = found.position.top_right.x / 150 * 72
    assert all(x0 > qr_right_pt for x0, _, _, _ in boxes), (boxes, qr_right_pt)
    _verify_ledger(body["ledger"], body["sha256"])


def _stamp_lines(pdf, code: str) -> list[tuple[float, float, float, float]]:
    """The boxes (x0, y0, x1, y1, in points) of page 1's stamp lines, per pdftotext -bbox."""
    import re

    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    )
    wanted = ("扫码核验", code, "Recorded on the court ledger", "本文书已登记于司法账本")
    return [
        tuple(float(v) for v in box) for *box, word in words if any(part in word for part in wanted)
    ]


def test_stamp_only_the_chosen_pages(owner, judgment_pdf, tmp_path):
    body = owner.post(
        "/api/v1/records",
        {
            "file": upload(judgment_pdf),
            "category": "litigation_document",
            "title": "判决书",
            "stamp": "true",
            "stamp_pages": "2",
        },
        format="multipart",
    ).json()
    pdf = tmp_path / "s.pdf"
    pdf.write_bytes(b"".join(owner.get(body["stamped_file"]).streaming_content))
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "p")], check=True)
    first = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "p-1.png")], capture_output=True, text=True
    )
    second = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "p-2.png")], capture_output=True, text=True
    )
    assert first.stdout == ""
    assert second.stdout.strip() == body["verification_url"]


def _blank_pdf() -> bytes:
    """One A4 page with no content stream at all, as PDF allows for a blank page."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_blank_page_without_content_is_stamped(owner, tmp_path):
    response = owner.post(
        "/api/v1/records",
        {"file": upload(_blank_pdf()), "category": "evidence", "title": "空白页", "stamp": "true"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    pdf = tmp_path / "s.pdf"
    pdf.write_bytes(b"".join(owner.get(body["stamped_file"]).streaming_content))
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "p")], check=True)
    [page] = tmp_path.glob("p*.png")
    read = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(page)], capture_output=True, text=True
    )
    assert read.stdout.strip() == body["verification_url"]


def test_qr_codes_decode_to_the_verification_url(owner, tmp_path):
    body = owner.post(
        "/api/v1/records",
        {"sha256": "01" * 32, "sm3": "02" * 32, "category": "evidence", "title": "x"},
        format="json",
    ).json()
    png = owner.get(body["qr_png"])
    assert png["Content-Type"] == "image/png"
    (tmp_path / "qr.png").write_bytes(png.content)
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "qr.png")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert decoded.stdout.strip() == body["verification_url"]
    svg = owner.get(body["qr_svg"])
    assert svg["Content-Type"] == "image/svg+xml"
    # Printed at its natural size the SVG is well above the 25 mm a phone needs.
    width = float(svg.content.split(b'width="')[1].split(b"mm")[0])
    assert width >= 25


def test_read_back_one_record_and_the_courts_list_with_filters(owner):
    made = []
    for category in ("evidence", "mediation", "evidence"):
        made.append(
            owner.post(
                "/api/v1/records",
                {
                    "sha256": f"{len(made):02x}" * 32,
                    "sm3": "02" * 32,
                    "category": category,
                    "title": "t",
                    "case_number": "A-1" if category == "mediation" else "B-2",
                },
                format="json",
            ).json()
        )
    one = owner.get(f"/api/v1/records/{made[0]['code'].lower().replace('-', '')}")
    assert one.status_code == 200
    assert one.json()["code"] == made[0]["code"]
    _verify_ledger(one.json()["ledger"], made[0]["sha256"])

    listed = owner.get("/api/v1/records?category=evidence").json()
    assert {r["code"] for r in listed["results"]} == {made[0]["code"], made[2]["code"]}
    assert (
        owner.get("/api/v1/records?case_number=A-1").json()["results"][0]["code"] == made[1]["code"]
    )
    bad = owner.get("/api/v1/records?category=verdicts")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "category"


# --- Permissions: owner, other court, revoked token, nobody -----------------------------


@pytest.fixture
def owned_code(owner):
    return owner.post(
        "/api/v1/records",
        {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "litigation_document", "title": "t"},
        format="json",
    ).json()["code"]


@pytest.mark.parametrize("path", ["", "/qr.png", "/qr.svg"])
def test_permission_matrix(owner, outsider, revoked, anonymous, owned_code, path):
    url = f"/api/v1/records/{owned_code}{path}"
    assert owner.get(url).status_code == 200
    assert outsider.get(url).status_code == 404
    assert revoked.get(url).status_code == 401
    missing = anonymous.get(url)
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == "Token"
    assert missing.json()["error"]["code"] == "not_authenticated"


def test_a_token_revoked_in_this_process_stops_working_at_once(court, settings):
    """The token cache (COURT_TOKEN_CACHE_SECONDS) forgets a token this process revokes."""
    from documents.models import CourtToken
    from tests.documents.conftest import _client

    settings.COURT_TOKEN_CACHE_SECONDS = 3600
    row, token = CourtToken.issue(court, "soon revoked")
    client = _client(token)
    assert client.get("/api/v1/records").status_code == 200  # now cached
    row.revoke()
    refused = client.get("/api/v1/records")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"


def test_other_court_cannot_add_events_or_see_records_in_its_list(outsider, owned_code):
    response = outsider.post(
        f"/api/v1/records/{owned_code}/events", {"event": "issued"}, format="json"
    )
    assert response.status_code == 404
    assert outsider.get("/api/v1/records").json()["results"] == []


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/records/ANY/events"])
def test_writing_without_a_token_is_refused(anonymous, revoked, path):
    assert anonymous.post(path, {}, format="json").status_code == 401
    assert revoked.post(path, {}, format="json").status_code == 401
    assert not Record.objects.exists()


def test_each_use_of_a_token_is_logged(owner, owned_code):
    owner.get(f"/api/v1/records/{owned_code}")
    uses = list(TokenUse.objects.order_by("at").values_list("method", "status"))
    assert uses == [("POST", 201), ("GET", 200)]


def test_token_uses_are_buffered_and_written_in_bulk_with_their_request_times(
    owner, owned_code, settings
):
    """With COURT_AUDIT_FLUSH_SECONDS above 0 a use waits in the process's buffer; a flush
    (the background thread's, or the one at exit) writes every use, in order."""
    from documents import audit

    settings.COURT_AUDIT_FLUSH_SECONDS = 3600  # the thread will not flush during the test
    settings.COURT_AUDIT_FLUSH_ROWS = 1000
    assert owner.get(f"/api/v1/records/{owned_code}").status_code == 200
    assert owner.get("/api/v1/records/NOSUCH").status_code == 404
    assert TokenUse.objects.count() == 1  # the POST of owned_code, written at once
    assert audit.flush() == 2
    uses = list(TokenUse.objects.order_by("at").values_list("method", "status"))
    assert uses == [("POST", 201), ("GET", 200), ("GET", 404)]
    assert audit.flush() == 0


# --- Idempotency -------------------------------------------------------------------------


def test_a_retried_request_returns_the_first_answer_and_records_nothing_twice(owner, judgment_pdf):
    def send():
        return owner.post(
            "/api/v1/records",
            {
                "file": upload(judgment_pdf),
                "category": "litigation_document",
                "title": "判决书",
                "stamp": "true",
            },
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="case-42-judgment",
        )

    first, second = send(), send()
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Record.objects.count() == 1
    assert Entry.objects.count() == 1


def test_the_same_key_for_a_different_request_is_refused(owner):
    payload = {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "evidence", "title": "one"}
    assert (
        owner.post("/api/v1/records", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code
        == 201
    )
    payload["title"] = "two"
    again = owner.post("/api/v1/records", payload, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "idempotency_key_reused"
    assert Record.objects.count() == 1


def test_a_refused_request_is_refused_again_on_retry(owner):
    payload = {"sha256": "zz", "sm3": "bb" * 32, "category": "evidence", "title": "t"}
    first = owner.post("/api/v1/records", payload, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    second = owner.post("/api/v1/records", payload, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()


# --- Bad input: 400 naming the field, nothing half-written --------------------------------

LONG = "长" * 301


@pytest.mark.parametrize(
    "payload, fmt, field, code",
    [
        ({"file": b"", "category": "evidence", "title": "t"}, "multipart", "file", "empty_file"),
        (
            {"file": b"plain text", "category": "evidence", "title": "t", "stamp": "true"},
            "multipart",
            "file",
            "not_a_pdf",
        ),
        (
            {"file": b"%PDF-1.7 broken", "category": "evidence", "title": "t", "stamp": "true"},
            "multipart",
            "file",
            "cannot_stamp",
        ),
        (
            {"sha256": "12" * 31, "sm3": "bb" * 32, "category": "evidence", "title": "t"},
            "json",
            "sha256",
            "malformed_digest",
        ),
        (
            {"sha256": "aa" * 32, "sm3": "not hex", "category": "evidence", "title": "t"},
            "json",
            "sm3",
            "malformed_digest",
        ),
        (
            {"sha256": "aa" * 32, "category": "evidence", "title": "t"},
            "json",
            "sm3",
            "missing_content",
        ),
        ({"category": "evidence", "title": "t"}, "json", "file", "missing_content"),
        (
            {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "verdict", "title": "t"},
            "json",
            "category",
            "invalid_choice",
        ),
        (
            {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "evidence", "title": LONG},
            "json",
            "title",
            "too_long",
        ),
        (
            {
                "sha256": "aa" * 32,
                "sm3": "bb" * 32,
                "category": "evidence",
                "title": "t",
                "parties": ["名" * 101],
            },
            "json",
            "parties.0",
            "too_long",
        ),
        (
            {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "evidence"},
            "json",
            "title",
            "required",
        ),
        (
            {
                "sha256": "aa" * 32,
                "sm3": "bb" * 32,
                "category": "evidence",
                "title": "t",
                "stamp": True,
            },
            "json",
            "stamp",
            "stamp_needs_file",
        ),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_written(
    owner, settings, payload, fmt, field, code
):
    if "file" in payload:
        payload["file"] = upload(payload["file"], "f.pdf")
    response = owner.post("/api/v1/records", payload, format=fmt)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]["zh"] and error["message"]["en"]
    assert not Record.objects.exists()
    assert not Submission.objects.exists() and not Entry.objects.exists()


def test_a_media_type_too_long_to_keep_is_refused(owner):
    media_type = "application/" + "x" * 100
    file = SimpleUploadedFile("chat.txt", b"evidence", content_type=media_type)
    response = owner.post(
        "/api/v1/records", {"file": file, "category": "evidence", "title": "t"}, format="multipart"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("file", "too_long")
    assert "100" in error["message"]["zh"] and "100" in error["message"]["en"]
    assert not Record.objects.exists() and not Submission.objects.exists()


def test_stamping_pages_that_do_not_exist_is_refused(owner, judgment_pdf):
    response = owner.post(
        "/api/v1/records",
        {
            "file": upload(judgment_pdf),
            "category": "litigation_document",
            "title": "t",
            "stamp": "true",
            "stamp_pages": "3-4",
        },
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "stamp_pages"
    assert not Record.objects.exists()


def test_malformed_json_is_a_clear_400(owner):
    response = owner.generic(
        "POST", "/api/v1/records", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.django_db(transaction=True)
def test_a_retry_after_a_ledger_delay_answers_for_the_same_record(settings, tmp_path):
    """The ledger is slow: the first answer is 503 with the code; the retry resumes it."""
    from rest_framework.test import APIClient

    from anchoring import sequencer
    from documents.models import Court, CourtToken

    settings.LEDGER_SEQUENCER = "off"  # nothing integrates until the test says so
    settings.LEDGER_SUBMIT_TIMEOUT = 0.2
    court = Court.objects.create(code="BJ0105", name_zh="朝阳法院", name_en="Chaoyang")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {CourtToken.issue(court)[1]}")
    payload = {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "evidence", "title": "t"}

    first = client.post("/api/v1/records", payload, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    error = _error_of(first, 503)
    assert error["code"] == "ledger_delayed" and error["record_code"]

    sequencer.integrate()
    again = client.post("/api/v1/records", payload, format="json", HTTP_IDEMPOTENCY_KEY="slow")
    assert again.status_code == 201, again.content
    assert again.json()["code"] == error["record_code"]
    assert Record.objects.count() == 1 and Entry.objects.count() == 1


def _error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


# --- The list's query parameters, however they are mistyped or forged --------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=99999999999999999999", "page"),  # past any OFFSET PostgreSQL can take
        ("page=184467440737095517", "page"),
        ("page=-1", "page"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("page=1.5", "page"),
        ("page=²", "page"),  # a digit to str.isdigit, not to int()
        ("page=١", "page"),  # an Arabic-Indic one, which int() reads as 1
        ("page=", "page"),
        ("page=" + "9" * 5000, "page"),  # longer than int() reads
        ("recorded_after=2026-13-45T99:99:99", "recorded_after"),
        ("recorded_before=2026-13-45T99:99:99", "recorded_before"),
        ("recorded_after=2026-02-30", "recorded_after"),
        ("recorded_after=2026-01-01T00:00:00+99:00", "recorded_after"),
        ("recorded_before=9999-12-31T23:59:59-23:59", "recorded_before"),
        ("recorded_after=0001-01-01T00:00:00+01:00", "recorded_after"),
        ("recorded_after=yesterday", "recorded_after"),
    ],
)
def test_a_bad_list_parameter_is_a_clear_400_naming_it(owner, owned_code, query, field):
    import re

    counts = (Record.objects.count(), Submission.objects.count(), Entry.objects.count())
    response = owner.get(f"/api/v1/records?{query}")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_parameter", field)
    assert re.search(r"[\u4e00-\u9fff]", error["message"]["zh"])
    assert error["message"]["en"].isascii()
    assert (Record.objects.count(), Submission.objects.count(), Entry.objects.count()) == counts


def test_the_last_page_and_past_it_answer_normally(owner, owned_code, settings):
    settings.COURT_API_PAGE_SIZE = 1
    first = owner.get("/api/v1/records?page=1").json()
    assert [r["code"] for r in first["results"]] == [owned_code] and not first["has_next"]
    assert owner.get("/api/v1/records?page=2").json()["results"] == []
    dated = owner.get("/api/v1/records?recorded_after=2000-01-01T00:00:00Z").json()
    assert [r["code"] for r in dated["results"]] == [owned_code]
    assert owner.get("/api/v1/records?recorded_after=2000-01-01").status_code == 200
