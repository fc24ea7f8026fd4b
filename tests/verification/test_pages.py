"""The public pages without a browser: codes typed, the record page, judges, downloads."""

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
        source="code",
        code=ledger.judgment.code,
        record=ledger.judgment,
        status="done",
        outcome="verified",
    )
    judge = User.objects.create_user("judge", password="pw-for-tests")
    judge.groups.add(Group.objects.get(name="judges"))
    client.force_login(judge)
    page = client.get(f"/v/{_display(ledger.judgment.code)}").content.decode()
    assert "（2026）京0105民初12345号" in page and "张三" in page
    assert "核验历史" in page and "核验通过" in page


def test_a_photo_without_a_qr_code_is_a_clear_error(client):
    import io

    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    blank.seek(0)
    blank.name = "blank.png"
    page = client.post("/verify/photo", {"photo": blank}, follow=True).content.decode()
    assert "没有识别到二维码" in page and "No QR code could be read" in page


def test_a_file_upload_without_a_file_is_a_clear_error(client):
    page = client.post("/verify", {}, follow=True).content.decode()
    assert "请选择一个非空的文件" in page


def _display(code: str) -> str:
    from documents.codes import display

    return display(code)
