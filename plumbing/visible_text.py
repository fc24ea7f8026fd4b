"""Text shown exactly as recorded: which characters a record's text may not hold.

A court system's record fields (title, case number, parties, names, details) are shown to
litigants and committed to the ledger as sent. A character that draws nothing, moves the
cursor, recolours a terminal or reorders the text around it can make a field read
differently from what is recorded, so such text is refused, never cleaned. No Django: the
court API's serializers wrap it (plumbing/visible_input.py).

Text is not normalised (NFC or otherwise): the ledger commits to the characters the court
sent, and NFC would replace CJK compatibility ideographs that some personal names are
written with (docs/api.md, "Text fields").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class Hidden(StrEnum):
    """The kinds of refused characters (their words: plumbing/error_codes.py)."""

    ESCAPE = "escape"  # ESC or CSI: the start of an ANSI (ECMA-48) escape sequence
    CONTROL = "control"  # the other C0 and C1 controls and DEL: line ends, tabs, NUL, bell
    BIDI = "bidi"  # bidirectional embeddings, overrides, isolates and marks
    INVISIBLE = "invisible"  # other format characters, line and paragraph separators, fillers
    SURROGATE = "surrogate"  # half of a UTF-16 pair, not a character


_ESCAPES = "\x1b\x9b"
# Unicode's bidirectional formatting characters: LRE RLE PDF LRO RLO, LRI RLI FSI PDI, and
# the marks LRM RLM ALM.
_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
# General category Cf (format) of Unicode 15.1 less the bidi characters above, then the line
# and paragraph separators (Zl, Zp) and the Hangul fillers, letters that draw nothing.
# U+180E, the Mongolian vowel separator, is Cf but part of Mongolian spelling and shown
# as a gap, so it is allowed. tests/plumbing/test_visible_text.py compares this list with
# the running Python's Unicode database.
_INVISIBLE = (
    "\u00ad\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\u200b-\u200d\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\u2028\u2029"
    "\u115f\u1160\u3164\uffa0"
)
_SURROGATES = "\ud800-\udfff"
_REFUSED = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}{_SURROGATES}]")
_KINDS = [
    (re.compile(f"[{_ESCAPES}]"), Hidden.ESCAPE),
    (re.compile("[\x00-\x1f\x7f-\x9f]"), Hidden.CONTROL),
    (re.compile(f"[{_BIDI}]"), Hidden.BIDI),
    (re.compile(f"[{_SURROGATES}]"), Hidden.SURROGATE),
]


@dataclass(frozen=True)
class Finding:
    """The first refused character of a text: what it is and where (from 1)."""

    kind: Hidden
    character: str
    position: int

    @property
    def code_point(self) -> str:
        """The character named as U+XXXX, which can be shown where the character cannot."""
        return f"U+{ord(self.character):04X}"


def find_hidden(text: str) -> Finding | None:
    """The first character of `text` a record may not hold, or None if there is none."""
    match = _REFUSED.search(text)
    if match is None:
        return None
    char = match.group()
    kind = next((k for pattern, k in _KINDS if pattern.match(char)), Hidden.INVISIBLE)
    return Finding(kind, char, match.start() + 1)


def find_hidden_in(value: object, path: str) -> tuple[str, Finding] | None:
    """The first refused character in a string, or in any key or string of nested lists
    and dicts (JSON), with the dotted path of the field that holds it."""
    for where, text in _texts(value, path):
        found = find_hidden(text)
        if found is not None:
            return where, found
    return None


def _texts(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            yield path, key  # a key that hides something is the dict's fault
            yield from _texts(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _texts(item, f"{path}.{index}")
