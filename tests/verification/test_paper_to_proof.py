"""From paper to proof: a litigant scans the QR code on a served judgment and lands on its
record, which says what was found and what that does not prove, and shows the court's
recorded original page by page (drawn from bytes checked against the ledger) to compare
with the paper; the electronic file is the second path."""

import io
import re

import pytest
import zxingcpp
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from documents import codes
from documents.registration import verification_url

pytestmark = pytest.mark.django_db(transaction=True)


def _record_page(client, record, language: str = "zh-CN") -> str:
    response = client.get(f"/v/{codes.display(record.code)}", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def test_the_record_page_says_what_is_proven_and_shows_each_page(client, ledger):
    page = _record_page(client, ledger.judgment)
    assert "并不说明您手中的纸张与它相同" in page
    english = _record_page(client, ledger.judgment, "en")
    assert "it does not show that the paper you hold is the same" in english
    images = re.findall(r'<img src="(/v/[^"]+/pages/(\d+)\.png)"', page)
    assert [int(n) for _, n in images] == [1, 2]  # the judgment has two pages
    assert page.index('class="original-pages"') < page.index("我还有电子文件")
    # An empty file sent from it comes back to its form, named beside the field.
    code = codes.display(ledger.judgment.code)
    empty = SimpleUploadedFile("copy.pdf", b"")
    form = {"file": empty, "code": code, "back": f"/v/{code}"}
    response = client.post("/verify", form, follow=True)
    assert response.redirect_chain[-1][0] == f"/v/{code}#check-file"
    back = response.content.decode()
    assert (
        '<p class="error field-error" id="file-error">“copy.pdf”：请选择一个非空的文件。</p>'
        in back
    )
    assert 'aria-describedby="file-error"' in back and f'name="code" value="{code}"' in back


def test_a_page_image_is_the_recorded_page_a_qr_reader_can_read(client, ledger):
    code = codes.display(ledger.judgment.code)
    response = client.get(f"/v/{code}/pages/1.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.width > 800  # 110 dpi of an A4 page: 909 pixels wide
    # The stamped judgment's own QR code, read back from the rendering by zxing-cpp.
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [
        verification_url(ledger.judgment.code)
    ]


def test_no_page_image_beyond_the_document_or_where_no_download_is_allowed(client, ledger):
    code = codes.display(ledger.judgment.code)
    assert client.get(f"/v/{code}/pages/3.png").status_code == 404
    assert client.get(f"/v/{code}/pages/0.png").status_code == 404
    evidence = codes.display(ledger.evidence.code)
    assert client.get(f"/v/{evidence}/pages/1.png").status_code == 404
    assert 'class="original-pages"' not in _record_page(client, ledger.evidence)


def test_a_stored_original_that_is_not_the_recorded_one_is_never_drawn(client, ledger):
    stored = ledger.judgment.file
    with stored.open("rb") as f:
        data = f.read()
    with open(stored.path, "wb") as f:  # a byte changed on the portal's disk
        f.write(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    response = client.get(f"/v/{codes.display(ledger.judgment.code)}/pages/1.png")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    # The record page says so, and neither offers nor shows that copy.
    page = _record_page(client, ledger.judgment)
    assert 'data-ledger="original-damaged"' in page and 'data-ledger="agrees"' not in page
    assert "/pages/" not in page and f"/v/{codes.display(ledger.judgment.code)}/file" not in page


def test_a_scanned_photo_opens_the_record_and_says_the_code_was_read(client, ledger):
    code = codes.display(ledger.judgment.code)
    photo = io.BytesIO(client.get(f"/v/{code}/pages/1.png").content)
    photo.name = "photo.png"
    response = client.post("/verify/photo", {"photo": photo}, follow=True)
    assert response.redirect_chain[-1][0] == f"/v/{code}"
    page = response.content.decode()
    assert f"已从您的照片中读出核验码 {code}。" in page and 'role="status"' in page
    photo.seek(0)
    english = client.post("/verify/photo", {"photo": photo}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert f"The record code {code} was read from your photo." in english.content.decode()
