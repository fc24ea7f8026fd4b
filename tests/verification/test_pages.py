"""The public pages without a browser: codes typed, the record page, judges, downloads."""

import re

import pytest
from django.contrib.auth.models import Group, User

from verification.models import Verification

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_typed_code_opens_its_record_page_with_masked_details(client, ledger):
    typed = ledger.judgment.code.lower()
    response = client.get("/lookup", {"code": typed}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/v/")
    assert "民事判决书" in page and "北京市朝阳区人民法院" in page
    assert "（2026）京0105民初***45号" in page  # case number masked
    assert "张*" in page and "张三" not in page  # party names masked
    assert "送达记录" in page and "已签收" in page  # the service timeline


@pytest.mark.parametrize(
    "code, message",
    [("ABC", "18 位"), ("7K3M9Q-XD4RTW-2HVBP9", "抄错"), ("7K3M9Q-XD4RTW-2HVBPU", "无效字符")],
)
def test_mistyped_codes_say_what_is_wrong(client, code, message):
    page = client.get("/lookup", {"code": code}, follow=True).content.decode()
    assert message in page


def test_a_well_formed_code_nobody_recorded_is_a_clear_404(client, ledger):
    response = client.get("/v/7K3M9Q-XD4RTW-2HVBPZ")
    assert response.status_code == 404
    assert "没有找到这条记录" in response.content.decode()


def test_the_original_is_offered_only_where_the_court_allowed_it(client, ledger):
    allowed = client.get(f"/v/{_display(ledger.judgment.code)}/file")
    assert allowed.status_code == 200
    assert b"".join(allowed.streaming_content) == ledger.judgment_pdf
    assert client.get(f"/v/{_display(ledger.evidence.code)}/file").status_code == 404


def test_judges_see_the_full_record_and_its_verification_history(client, ledger):
    Verification.objects.create(
        source="upload",
        code=ledger.judgment.code,
        sha256=ledger.judgment.sha256,
        record=ledger.judgment,
        status="done",
        outcome="verified",
    )
    judge = User.objects.create_user("judge", password="pw-for-tests")
    judge.groups.add(Group.objects.get(name="judges"))
    client.force_login(judge)
    page = client.get(f"/v/{_display(ledger.judgment.code)}").content.decode()
    assert "（2026）京0105民初12345号" in page and "张三" in page
    history = page.split("核验历史", 1)[1]
    assert history.count("核验通过") == 1 and "与账本不符" not in history
    # A row set to verified for a file that is not the record's is never shown verified.
    Verification.objects.create(
        source="digest", sha256="ab" * 32, record=ledger.judgment, status="done", outcome="verified"
    )
    history = client.get(f"/v/{_display(ledger.judgment.code)}").content.decode()
    history = history.split("核验历史", 1)[1]
    assert history.count("核验通过") == 1 and history.count("与账本不符") == 1


def _blank_png() -> bytes:
    import io

    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    return blank.getvalue()


# A refused file or photo of the home page's forms: the field, the file sent (None: none
# chosen), and what is said beside the field in Chinese and in English.
REFUSED = {
    "no QR code": (
        "photo",
        ("blank.png", _blank_png),
        "照片中没有识别到二维码",
        "No QR code could be read",
    ),
    "not a picture": (
        "photo",
        ("notes.txt", lambda: b"not a picture"),
        "无法读取这张图片",
        "This picture cannot be read",
    ),
    "empty photo": (
        "photo",
        ("empty.jpg", lambda: b""),
        "请选择一个非空的文件",
        "Choose a file that is not empty",
    ),
    "no photo": ("photo", None, "请选择一张照片", "Choose a photo."),
    "empty file": (
        "file",
        ("empty.txt", lambda: b""),
        "请选择一个非空的文件",
        "Choose a file that is not empty",
    ),
    "no file": ("file", None, "请选择要核验的文件", "Choose a file to verify."),
}


def _field(page: str, name: str) -> tuple[str, str, str]:
    """A field's input, the message beside it, and the summary's link to it at the top."""
    import html

    box = re.search(rf'<input[^>]* id="{name}"[^>]*>', page).group(0)
    beside = re.search(rf'<p class="error field-error" id="{name}-error">(.*?)</p>', page)
    summary = re.search(rf'role="alert"><a href="#{name}">(.*?)</a></p>', page)
    assert beside and summary, page
    return box, html.unescape(beside.group(1)), html.unescape(summary.group(1))


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refused_file_or_photo_is_named_beside_its_field(client, case, language):
    from django.core.files.uploadedfile import SimpleUploadedFile

    field, sent, zh, en = REFUSED[case]
    form = {field: SimpleUploadedFile(sent[0], sent[1]())} if sent else {}
    action = "/verify/photo" if field == "photo" else "/verify"
    header = "en-GB,en" if language == "en" else "zh-CN,zh"
    response = client.post(action, form, follow=True, HTTP_ACCEPT_LANGUAGE=header)
    assert response.redirect_chain[-1][0] == f"/#check-{field}"
    page = response.content.decode()
    box, beside, summary = _field(page, field)
    assert 'aria-invalid="true"' in box and f'aria-describedby="{field}-error"' in box
    said, other = (en, zh) if language == "en" else (zh, en)
    assert said in beside and summary == beside
    assert other not in page
    if sent:  # which file to choose again
        assert beside.startswith(f"“{sent[0]}”")
    # The other forms are not marked.
    assert 'aria-invalid="true"' not in page.replace(box, "")


def _display(code: str) -> str:
    from documents.codes import display

    return display(code)


def _png(width: int, height: int) -> bytes:
    """A valid black-and-white PNG of any size, compressed as it is made: a 20000 x 20000
    picture is a few dozen kilobytes on the wire and 400 million pixels decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then white pixels
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row * 100) for _ in range(height // 100))
    pixels += packer.compress(row * (height % 100)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [20_000, 12_000])  # over Pillow's own limit, and under it
def test_a_photo_with_too_many_pixels_is_a_clear_error(client, settings, tmp_path, side):
    import tempfile
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path / "media"
    temp = Path(tempfile.gettempdir())
    before = set(temp.iterdir())
    photo = SimpleUploadedFile("bomb.png", _png(side, side), "image/png")
    response = client.post("/verify/photo", {"photo": photo}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "“bomb.png”：照片像素太多" in page and "The photo is too large" not in page
    assert not Verification.objects.exists()
    assert not (tmp_path / "media").exists()
    assert set(temp.iterdir()) <= before


def test_the_photo_pixel_limit_is_a_setting(client, settings):
    import io

    from PIL import Image

    settings.VERIFY_MAX_PHOTO_PIXELS = 100 * 100
    photo = io.BytesIO()
    Image.new("RGB", (101, 100), "white").save(photo, "PNG")
    photo.seek(0)
    photo.name = "photo.png"
    page = client.post("/verify/photo", {"photo": photo}, follow=True).content.decode()
    assert "照片像素太多" in page


def test_the_upload_script_is_told_where_to_go_and_messages_wait_for_that_page(client):
    import io

    upload = io.BytesIO(b"a court file")
    upload.name = "file.txt"
    answer = client.post("/verify", {"file": upload}, headers={"X-Upload-Progress": "1"})
    assert answer.status_code == 200
    location = answer.json()["location"]
    assert location.startswith("/verifications/")
    assert "未找到" in client.get(location).content.decode()
    plain = io.BytesIO(b"a court file")
    plain.name = "file.txt"
    assert client.post("/verify", {"file": plain}).status_code == 302  # without the script
    empty = io.BytesIO(b"")
    empty.name = "empty.txt"
    refused = client.post(
        "/verify", {"file": empty, "back": "/"}, headers={"X-Upload-Progress": "1"}
    )
    assert refused.json() == {"location": "/#check-file"}
    assert "请选择一个非空的文件" in client.get("/").content.decode()  # kept for that page


def test_a_mistyped_code_is_kept_in_its_box_with_the_message_beside_it(client):
    response = client.get("/lookup", {"code": "7K3M9Q-XD4RTW"}, follow=True)
    assert response.redirect_chain[-1][0] == "/?code=7K3M9Q-XD4RTW#check-code"
    page = response.content.decode()
    box = re.search(r"<input id=\"code\"[^>]*>", page).group(0)
    assert 'value="7K3M9Q-XD4RTW"' in box and 'aria-invalid="true"' in box
    assert 'aria-describedby="code-error"' in box
    beside = re.search(r'<p class="error field-error" id="code-error">(.*?)</p>', page).group(1)
    assert "18 位" in beside
    # The summary at the top says it too, and leads to the box.
    assert re.search(r'role="alert"><a href="#code">[^<]*18 位', page)
    english = client.get(
        "/lookup", {"code": "7K3M9Q-XD4RTW"}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    beside = re.search(r'id="code-error">(.*?)</p>', english.content.decode()).group(1)
    assert beside == "A record code has 18 letters or digits."
    # What was typed is text, never markup.
    hostile = client.get("/lookup", {"code": '"><script>x</script>'}, follow=True)
    assert "<script>x</script>" not in hostile.content.decode()
