"""Record text holds no character that could make it read otherwise than it is recorded."""

import unicodedata

import pytest

from plumbing.visible_text import _REFUSED, Finding, Hidden, find_hidden, find_hidden_in

# Chinese court data as it really comes: full-width punctuation, the middle dot between
# names, the ideographic space, a name character with an ideographic variation selector,
# a rare character a court system keeps in the private use area, Mongolian and Uyghur.
ACCEPTED = [
    "（2026）京0105民初12345号",
    "张三·李四",
    "民事判决书　第一页",
    "原告：王五；被告：赵六。“借款合同纠纷”《判决书》【附件】——完…",
    "葛\U000e0100优",
    "李\ue000明",
    "ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ\u180eᠡ",
    "ئۇيغۇرچە",
    "Zhang San & Li Si (2026) No. 12345",
    "",
]

REFUSED = [
    ("第一行\n第二行", Hidden.CONTROL, "\n"),
    ("民事\t判决书", Hidden.CONTROL, "\t"),
    ("判决书\r", Hidden.CONTROL, "\r"),
    ("张\x00三", Hidden.CONTROL, "\x00"),
    ("张\x7f三", Hidden.CONTROL, "\x7f"),
    ("张\x85三", Hidden.CONTROL, "\x85"),  # C1: next line
    ("\x1b[31m已签收\x1b[0m", Hidden.ESCAPE, "\x1b"),
    ("\x9b2J判决书", Hidden.ESCAPE, "\x9b"),  # C1 CSI
    ("被告\u202e三张", Hidden.BIDI, "\u202e"),
    ("被告\u202a张三\u202c", Hidden.BIDI, "\u202a"),
    ("被告\u2066张三\u2069", Hidden.BIDI, "\u2066"),
    ("张三\u200f", Hidden.BIDI, "\u200f"),
    ("张\u200b三", Hidden.INVISIBLE, "\u200b"),
    ("张\u200d三", Hidden.INVISIBLE, "\u200d"),
    ("\ufeff判决书", Hidden.INVISIBLE, "\ufeff"),
    ("判决\u00ad书", Hidden.INVISIBLE, "\u00ad"),
    ("判决书\u2028附件", Hidden.INVISIBLE, "\u2028"),
    ("张三\U000e0041", Hidden.INVISIBLE, "\U000e0041"),  # a tag character
    ("张\u3164三", Hidden.INVISIBLE, "\u3164"),  # a Hangul filler draws nothing
    ("张\ud800三", Hidden.SURROGATE, "\ud800"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_real_court_text_is_accepted(text):
    assert find_hidden(text) is None


@pytest.mark.parametrize("text, kind, char", REFUSED)
def test_each_kind_of_hidden_character_is_found_with_where_it_is(text, kind, char):
    found = find_hidden(text)
    assert found == Finding(kind, char, text.index(char) + 1)
    assert found.code_point == f"U+{ord(char):04X}"


def test_the_list_is_the_unicode_database_of_this_python():
    """Every control, format, surrogate and separator character of the running Python's
    Unicode database is refused, but for the Mongolian vowel separator."""
    expected = {
        c
        for c in map(chr, range(0x110000))
        if unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    } - {"\u180e"}
    expected |= {"\u115f", "\u1160", "\u3164", "\uffa0"}
    refused = {c for c in map(chr, range(0x110000)) if _REFUSED.match(c)}
    assert sorted(map(ord, refused ^ expected)) == []


def test_nested_values_are_searched_with_the_path_of_what_holds_them():
    assert find_hidden_in(["张三", "李\u202e四"], "parties") == (
        "parties.1",
        Finding(Hidden.BIDI, "\u202e", 2),
    )
    details = {"送达地址": "北京", "note": {"lines": ["ok", "a\nb"]}}
    assert find_hidden_in(details, "details")[0] == "details.note.lines.1"
    assert find_hidden_in({"bad\x1bkey": "x"}, "details")[0] == "details"
    assert find_hidden_in({"a": 1, "b": None, "c": True}, "details") is None
