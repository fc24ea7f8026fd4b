"""The witness's plain-text answers say each refusal in Chinese, then in English."""

import re

from plumbing.error_codes import PageMessage
from witness import messages, protocol

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_message_is_chinese_then_english():
    found = [v for v in vars(messages).values() if isinstance(v, PageMessage)]
    found += list(messages.REFUSALS.values())
    assert len(found) > 6
    for message in found:
        assert CJK.search(message.zh), message
        assert message.en.isascii() and not CJK.search(message.en), message


def test_every_refusal_but_409_has_its_words():
    refusals = {
        cls
        for cls in vars(protocol).values()
        if isinstance(cls, type) and issubclass(cls, protocol.WitnessError)
    }
    assert refusals - set(messages.REFUSALS) == {protocol.WitnessError, protocol.SizeConflict}
