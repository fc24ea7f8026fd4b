"""/judges without a browser: who may open it, where signing in lands, each search field,
pages of results, bad input kept beside its field, recent verifications, the header."""

from __future__ import annotations

import itertools
import os
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User

from documents import codes
from documents.models import Court, Record
from tests.tampering.conftest import superuser_sql
from verification.models import Verification

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
_submissions = itertools.count(1)


def _record(court: Court, title: str, day: str, *, case: str = "", parties=()) -> Record:
    """A record row as the court side leaves it (the search reads rows, not the ledger)."""
    return Record.objects.create(
        code=codes.new_code(),
        court=court,
        category=Record.Category.LITIGATION_DOCUMENT,
        title=title,
        case_number=case,
        parties=list(parties),
        sha256=os.urandom(32).hex(),
        sm3=os.urandom(32).hex(),
        metadata_salt=os.urandom(16),
        recorded_at=datetime.fromisoformat(day).replace(tzinfo=SHANGHAI),
        submission=next(_submissions) + 10_000_000,
    )


@pytest.fixture
def records():
    chaoyang = Court.objects.create(
        code="BJ0105", name_zh="北京市朝阳区人民法院", name_en="Chaoyang Court"
    )
    haidian = Court.objects.create(
        code="BJ0108", name_zh="北京市海淀区人民法院", name_en="Haidian Court"
    )
    return {
        "judgment": _record(
            chaoyang,
            "民事判决书",
            "2026-03-01T09:00",
            case="（2026）京0105民初12345号",
            parties=["张三", "李四"],
        ),
        "ruling": _record(
            chaoyang,
            "民事裁定书",
            "2026-03-15T23:30",
            case="（2026）京0105民初678号",
            parties=["王五", "Acme Trading Ltd"],
        ),
        "evidence": _record(haidian, "聊天记录", "2026-04-02T08:00", parties=["张三丰"]),
    }


@pytest.fixture
def judge(client):
    user = User.objects.create_user("judge", password="pw-for-tests", first_name="Wang")
    user.groups.add(Group.objects.get(name="judges"))
    return user


@pytest.fixture
def outsider():
    return User.objects.create_user("clerk", password="pw-for-tests")


def _found(page: str) -> list[str]:
    """The record codes listed as results, in order."""
    table = page.split('data-search="results"', 1)[1].split('id="recent"', 1)[0]
    return re.findall(r'<td><a href="/v/([0-9A-Z-]+)">', table)


def _codes(records, *names) -> list[str]:
    return [records[name].display_code for name in names]


def test_signing_in_lands_on_the_judges_page_unless_next_says_otherwise(client, judge):
    answer = client.post("/accounts/login/", {"username": "judge", "password": "pw-for-tests"})
    assert answer.status_code == 302 and answer["Location"] == "/judges"
    client.logout()
    answer = client.post(
        "/accounts/login/?next=/courts", {"username": "judge", "password": "pw-for-tests"}
    )
    assert answer["Location"] == "/courts"


def test_only_judges_may_search(client, outsider):
    answer = client.get("/judges", {"party": "张三"})
    assert answer.status_code == 302
    assert (
        answer["Location"]
        == "/accounts/login/?next=/judges%3Fparty%3D%25E5%25BC%25A0%25E4%25B8%2589"
    )
    client.force_login(outsider)
    answer = client.get("/judges", {"party": "张三"})
    page = answer.content.decode()
    assert answer.status_code == 403
    assert "仅限法官" in page and "clerk" in page and "data-search" not in page


@pytest.mark.parametrize(
    "query, expected",
    [
        # The code in any accepted form: lower case, no hyphens, O for 0 and so on.
        ({"code": "lower"}, ["ruling"]),
        ({"case_number": "民初12345"}, ["judgment"]),
        ({"case_number": "京0105"}, ["ruling", "judgment"]),
        ({"court": "BJ0108"}, ["evidence"]),
        ({"recorded_from": "2026-03-02", "recorded_to": "2026-03-15"}, ["ruling"]),
        ({"recorded_to": "2026/3/1"}, ["judgment"]),
        ({"recorded_from": "2026年4月2日"}, ["evidence"]),
        ({"party": "张三"}, ["evidence", "judgment"]),
        ({"party": "acme"}, ["ruling"]),
        ({"party": "张三", "court": "BJ0105"}, ["judgment"]),
        ({"party": "100%"}, []),
    ],
)
def test_each_field_narrows_the_search(client, judge, records, query, expected):
    if query.get("code") == "lower":
        query = {"code": records["ruling"].code.lower().replace("0", "o")}
    client.force_login(judge)
    page = client.get("/judges", query).content.decode()
    assert _found(page) == _codes(records, *expected)
    if not expected:
        assert 'data-search="none"' in page and "没有匹配的记录" in page
    else:  # unmasked for the judge, and no claim that the rows are checked
        assert 'data-trust="database"' in page and "并未与司法账本核对" in page
        assert "核验通过" not in page.split('id="recent"')[0]


def test_results_come_in_pages_and_a_broad_search_says_so(client, judge, records, settings):
    court = records["judgment"].court
    for day in range(1, 6):
        _record(court, "通知书", f"2026-05-0{day}T10:00", parties=["赵六"])
    settings.JUDGE_SEARCH_PAGE_SIZE = 2
    client.force_login(judge)
    first = client.get("/judges", {"party": "赵六"}).content.decode()
    assert len(_found(first)) == 2 and "共有 5 条记录匹配" in first
    assert 'href="?party=%E8%B5%B5%E5%85%AD&amp;page=2#results"' in first
    last = client.get("/judges", {"party": "赵六", "page": "3"}).content.decode()
    assert len(_found(last)) == 1 and "第 3 页，共 3 页" in last
    settings.JUDGE_SEARCH_MAX_RESULTS = 3
    broad = client.get("/judges", {"party": "赵六", "page": "9"}).content.decode()
    assert 'data-search="too-broad"' in broad and "超过 3 条" in broad
    assert len(_found(broad)) == 1  # the third of the newest three, on the last page


def test_an_empty_search_says_what_to_fill_in(client, judge, records):
    client.force_login(judge)
    page = client.get("/judges", {"search": "1", "party": "  "}).content.decode()
    assert 'data-search="empty-query"' in page and "请至少填写一项" in page
    assert 'data-search="results"' not in page


def test_a_bad_date_is_marked_beside_its_field_and_kept(client, judge, records):
    client.force_login(judge)
    page = client.get(
        "/judges", {"recorded_from": "2026-13-01", "party": "张三", "code": "ABC"}
    ).content.decode()
    assert 'data-search="results"' not in page
    assert '<a href="#search-recorded_from">请按“年-月-日”输入日期' in page  # the summary
    assert '<a href="#search-code">核验码应有 18 位' in page
    field = re.search(r'<input id="search-recorded_from"[^>]*>', page).group(0)
    assert 'value="2026-13-01"' in field and 'aria-invalid="true"' in field
    assert "search-recorded_from-error" in field
    assert 'id="search-recorded_from-error">请按“年-月-日”输入日期' in page
    assert 'value="张三"' in page and 'value="ABC"' in page  # the rest is kept too
    backwards = client.get(
        "/judges", {"recorded_from": "2026-04-01", "recorded_to": "2026-03-01"}
    ).content.decode()
    assert 'id="search-recorded_to-error">截止日期早于起始日期' in backwards


def test_recent_verifications_of_records_are_listed_with_their_pages(client, judge, ledger):
    recorded = ledger.evidence
    mine = Verification.objects.create(
        source="upload", record=recorded, sha256=recorded.sha256, status="done", outcome="verified"
    )
    # A row that says verified for a file that is not the record's is never "matched".
    forged = Verification.objects.create(
        source="digest", record=recorded, sha256="ab" * 32, status="done", outcome="verified"
    )
    Verification.objects.create(source="digest", status="done", outcome="not_found")
    client.force_login(judge)
    recent = client.get("/judges").content.decode().split('id="recent"', 1)[1]
    assert f'href="/v/{recorded.display_code}"' in recent
    assert f'href="/verifications/{mine.id}">与账本一致' in recent
    assert f'href="/verifications/{forged.id}">与账本不符' in recent
    assert recent.count("<tr>") == 3  # the heading and the two verifications of a record

    # The record's row changed in the database: the ledger no longer agrees with it.
    superuser_sql(
        "UPDATE documents_record SET title = %s WHERE id = %s", ["伪造的标题", recorded.pk]
    )
    recent = client.get("/judges").content.decode().split('id="recent"', 1)[1]
    assert f'href="/verifications/{mine.id}">与账本不符' in recent
    assert "与账本一致" not in recent


def test_the_header_shows_who_is_signed_in(client, judge, outsider):
    assert "data-signed-in" not in client.get("/").content.decode()
    client.force_login(judge)
    page = client.get("/courts").content.decode()
    header = page.split("</header>", 1)[0]
    assert "已登录：<strong>Wang</strong>" in header
    assert 'href="/judges"' in header and 'action="/accounts/logout/"' in header
    client.force_login(outsider)
    header = client.get("/courts").content.decode().split("</header>", 1)[0]
    assert "<strong>clerk</strong>" in header and 'href="/judges"' not in header


def test_the_page_is_in_one_language_at_a_time(client, judge, records):
    client.force_login(judge)
    chinese = client.get("/judges", {"court": "BJ0105"}).content.decode()
    english = client.get("/judges", {"court": "BJ0105"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>查找记录</h1>" in chinese and "Find a record" not in chinese
    assert "北京市朝阳区人民法院</td>" in chinese
    assert "<h1>Find a record</h1>" in english and "查找记录" not in english
    assert "Signed in as <strong>Wang</strong>" in english
    assert "2 records match." in english and "Chaoyang Court</td>" in english
