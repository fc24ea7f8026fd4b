"""The courts and alliance pages in one language at a time: Chinese by default, English
when the reader asks for it, never both."""

import re

import pytest

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


def _main(client, path: str, **headers) -> str:
    response = client.get(path, **headers)
    assert response.status_code == 200
    return response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


@pytest.fixture
def court():
    from documents.models import Court

    return Court.objects.create(
        code="SH0101",
        name_zh="上海市黄浦区人民法院",
        name_en="Huangpu District Court",
        phone="021-1234",
        address_zh="上海市黄浦区某路 1 号",
        address_en="1 Some Road, Huangpu, Shanghai",
    )


def test_the_courts_page_in_chinese(client, court):
    main = _main(client, "/courts")
    assert "<h1>法院联系方式</h1>" in main and "<dt>电话</dt>" in main
    assert "上海市黄浦区人民法院" in main and "上海市黄浦区某路 1 号" in main
    assert "Huangpu" not in main and "Telephone" not in main


def test_the_courts_page_in_english(client, court):
    main = _main(client, "/courts", HTTP_ACCEPT_LANGUAGE="en")
    assert "<h1>Contacting the courts</h1>" in main and "<dt>Address</dt>" in main
    assert "Huangpu District Court" in main and "1 Some Road, Huangpu, Shanghai" in main
    assert not CJK.search(main), CJK.findall(main)


def test_the_alliance_page_in_chinese_and_in_english(client):
    chinese = _main(client, "/alliance")
    assert "<h1>谁在为这本账本作证</h1>" in chinese and "如何独立核对" in chinese
    assert "Who vouches" not in chinese and "Check it yourself" not in chinese
    english = _main(client, "/alliance", HTTP_ACCEPT_LANGUAGE="en")
    assert "<h1>Who vouches for this ledger</h1>" in english and "Check it yourself" in english
    assert not CJK.search(english), CJK.findall(english)
