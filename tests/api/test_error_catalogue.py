"""The error catalogue is the API's contract: every code in it is documented, and each
entry's texts are Chinese and English."""

import re
from pathlib import Path

from plumbing import error_codes
from plumbing.error_codes import PageMessage, catalogue

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_code_of_the_catalogue_is_documented():
    documented = set(re.findall(r"`([a-z_]+)`", API_DOC.read_text()))
    missing = sorted({e.code for e in catalogue()} - documented)
    assert not missing, f"codes missing from docs/api.md: {missing}"


def test_each_code_has_one_status():
    statuses: dict[str, set[int]] = {}
    for entry in catalogue():
        statuses.setdefault(entry.code, set()).add(entry.status)
    assert {code: s for code, s in statuses.items() if len(s) > 1} == {}


def test_every_entry_is_chinese_under_zh_and_english_under_en():
    for entry in catalogue():
        assert CJK.search(entry.zh), entry
        assert entry.en.isascii() and not CJK.search(entry.en), entry


def test_every_page_message_is_chinese_then_english():
    pages = [v for v in vars(error_codes).values() if isinstance(v, PageMessage)]
    pages += list(error_codes.CODE_PROBLEMS.values())
    assert len(pages) > 6
    for message in pages:
        assert CJK.search(message.zh), message
        assert message.en.isascii() and not CJK.search(message.en), message
