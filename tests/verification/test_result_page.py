"""The result page as a litigant reads it: the outcome first, in a panel with the reference
number and the certificate; a title that says the outcome; the technical steps below,
collapsed, each under a plain heading; whom to ask when the file is not found or differs."""

import re

import pytest
from django.urls import reverse

from tests.court_ledger import check, sha

pytestmark = pytest.mark.django_db(transaction=True)


def _page(client, v, language: str = "zh-CN") -> str:
    response = client.get(f"/verifications/{v.id}", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def _title(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


def _panel(page: str) -> str:
    return re.search(r'<section class="outcome-panel.*?</section>', page, re.S).group(0)


@pytest.mark.parametrize(
    "made, title, english",
    [
        ("judgment", "核验通过 · 核验结果", "Verified · Verification result"),
        ("unknown", "未找到登记记录 · 核验结果", "Not found · Verification result"),
        ("changed", "与登记文件不一致 · 核验结果", "Not identical · Verification result"),
    ],
)
def test_the_title_says_the_outcome(client, ledger, made, title, english):
    if made == "judgment":
        v = check(sha256=sha(ledger.judgment_pdf))
    elif made == "unknown":
        v = check(sha256=sha(b"no court recorded this"))
    else:
        v = check(code=ledger.judgment.code, source="code", sha256=sha(b"another file"))
    assert _title(_page(client, v)) == title
    assert _title(_page(client, v, "en")) == english


def test_the_panel_holds_the_outcome_reference_and_certificate_before_the_steps(client, ledger):
    v = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    page = _page(client, v)
    panel = _panel(page)
    number = re.search(r'data-certificate="([^"]+)"', panel).group(1)
    assert "核验通过" in panel and "参考编号" in panel and number in panel
    assert f'href="{reverse("certificate-pdf", args=[number])}"' in panel
    assert "下载核验证书 PDF" in panel
    # The steps come after the panel, collapsed, each under a plain heading.
    assert page.index("</section>") < page.index('<details class="steps-details">')
    steps = page[page.index('<details class="steps-details">') :]
    assert "条目确在账本中" in steps and "The entry is in the ledger" not in steps
    assert "账本未被改写" in steps and "送达：签收" in steps


def test_not_identical_gives_the_courts_contact_details(client, ledger):
    court = ledger.judgment.court
    court.phone, court.address_zh = "010-8888 0000", "北京市朝阳区示例路 1 号"
    court.address_en, court.website = "1 Example Road, Chaoyang, Beijing", "https://court.example"
    court.save()
    v = check(code=ledger.judgment.code, source="code", sha256=sha(b"another file"))
    panel = _panel(_page(client, v))
    assert 'href="tel:010-8888 0000"' in panel and "北京市朝阳区示例路 1 号" in panel
    assert "1 Example Road" not in panel and "https://court.example" in panel
    assert 'href="/courts"' in panel and "联系北京市朝阳区人民法院" in panel
    english = _panel(_page(client, v, "en"))
    assert "Contact Chaoyang Court" in english and "1 Example Road" in english
    assert "北京市朝阳区示例路" not in english


def test_verified_shows_no_contact_block_and_not_found_points_to_the_courts(client, ledger):
    verified = _panel(_page(client, check(sha256=sha(ledger.judgment_pdf))))
    assert "data-contact" not in verified
    not_found = _panel(_page(client, check(sha256=sha(b"no court recorded this"))))
    assert "data-contact" in not_found and 'href="/courts"' in not_found


def test_the_courts_page_lists_each_court_and_how_to_reach_it(client, ledger):
    from documents.models import Court

    Court.objects.create(
        code="SH0101", name_zh="上海市黄浦区人民法院", name_en="Huangpu Court", phone="021-1234"
    )
    page = client.get("/courts").content.decode()
    assert "上海市黄浦区人民法院" in page and 'href="tel:021-1234"' in page
    chaoyang = page[page.index('data-court="BJ0105"') : page.index('data-court="SH0101"')]
    assert "尚未在本平台留下联系方式" in chaoyang  # no details given: said, not left blank
