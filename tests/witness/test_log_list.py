"""The witness network's log list (logs/v0): what it reads, and each mistake it names."""

import pytest

from anchoring.note import new_signer_key
from witness.log_list import ListedLog, LogListError, parse_log_list

_, FOO = new_signer_key("tlog.foo.org")
_, BAR = new_signer_key("bar.org/tlog")


def test_the_specs_example_shape_is_read():
    text = f"""#
# List:      10qps-100klogs
# Revision:  123
#
logs/v0

# 1st list item -- foo's log
vkey {FOO}
qpd 86400
contact https://tlog.foo.org/contact

# 2nd list item -- bar's log
  vkey {BAR}
origin something-not-equal-to-vkey-keyname
qpd 24
contact sysadmin (at) bar.org
"""
    assert parse_log_list(text) == [
        ListedLog(FOO, "tlog.foo.org", 86400, "https://tlog.foo.org/contact", 8),
        ListedLog(BAR, "something-not-equal-to-vkey-keyname", 24, "sysadmin (at) bar.org", 13),
    ]


def test_origin_none_bastion_and_no_contact():
    text = f"logs/v0\nvkey {FOO}\norigin none\nbastion bastion.foo.org\nqpd 1\nvkey {BAR}\nqpd 2147483647\n"
    assert parse_log_list(text) == [
        ListedLog(FOO, "tlog.foo.org", 1, "", 2),
        ListedLog(BAR, "bar.org/tlog", 2147483647, "", 6),
    ]


def test_an_empty_list_has_no_logs():
    assert parse_log_list("# nothing yet\nlogs/v0\n") == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "header"),
        ("# only a comment\n", None, "header"),
        ("logs/v1\n", 1, "header"),
        (f"vkey {FOO}\nqpd 1\n", 1, "header"),
        ("logs/v0\nqpd 5\n", 2, "'qpd'"),
        ("logs/v0\nvkey not-a-key\nqpd 5\n", 2, "invalid vkey"),
        ("logs/v0\nvkey\nqpd 5\n", 2, "needs a value"),
        (f"logs/v0\nvkey {FOO}\ncontact x\n", 3, "'contact'"),
        (f"logs/v0\nvkey {FOO}\n", 2, "no qpd"),
        (f"logs/v0\nvkey {FOO}\nvkey {BAR}\nqpd 1\n", 3, "'vkey'"),
        (f"logs/v0\nvkey {FOO}\nqpd 0\n", 3, "qpd"),
        (f"logs/v0\nvkey {FOO}\nqpd 2147483648\n", 3, "qpd"),
        (f"logs/v0\nvkey {FOO}\nqpd 010\n", 3, "qpd"),
        (f"logs/v0\nvkey {FOO}\nqpd ten\n", 3, "qpd"),
        (f"logs/v0\nvkey {FOO}\nqpd 1\norigin x\n", 4, "'origin'"),
        (f"logs/v0\nvkey {FOO}\nqpd 1\ncontact a\ncontact b\n", 5, "'contact'"),
        (f"logs/v0\nvkey {FOO}\nqpd 1\nfoo bar\n", 4, "unknown keyword"),
        (f"logs/v0\nvkey {FOO}\nqpd 1\n\nvkey {FOO}\nqpd 2\n", 5, "listed already"),
        (f"logs/v0\nvkey {FOO}\nbastion b\norigin x\nqpd 1\n", 4, "'origin'"),
    ],
)
def test_each_mistake_names_its_line(text, line, words):
    with pytest.raises(LogListError) as caught:
        parse_log_list(text)
    assert caught.value.line == line
    assert words in str(caught.value)
    if line is not None:
        assert f"line {line}:" in str(caught.value)


def test_a_type_0x04_witness_key_is_not_a_log_key():
    from anchoring.cosignature import vkey
    from anchoring.note import Signer

    signer = Signer.generate("w.example")
    with pytest.raises(LogListError, match="line 2: invalid vkey"):
        parse_log_list(f"logs/v0\nvkey {vkey('w.example', signer.public_key)}\nqpd 1\n")
