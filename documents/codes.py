"""Record codes: unguessable, short, easy to read aloud and type, with a check character.

A code is 85 random bits written as 17 characters of Crockford's base32 alphabet (no I,
L, O or U, so nothing looks alike), plus one Luhn mod 32 check character that catches
any single mistyped character and most swapped neighbours. It is shown in three groups
of six: 7K3M9Q-XD4RTW-2HVBPZ. Typing is forgiving: case, spaces and hyphens are ignored
and I, L, O are read as 1, 1, 0.
"""

import secrets
from enum import StrEnum

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_CHARS = 17  # 17 * 5 = 85 bits
LENGTH = RANDOM_CHARS + 1
GROUP = 6
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


class CodeProblem(StrEnum):
    """What is wrong with text given as a record code (its words: plumbing/error_codes.py)."""

    LENGTH = "length"  # not 18 characters
    CHARACTER = "character"  # a character outside the alphabet
    CHECK = "check"  # the check character does not match: a character is mistyped
    URL = "url"  # a QR code that holds no verification URL of this portal
    NO_QR = "no_qr"  # no QR code in the picture
    IMAGE = "image"  # not a picture that can be read
    PIXELS = "pixels"  # a picture with more pixels than a photo is allowed to have


class CodeError(ValueError):
    """Text (or a picture) that does not give a record code; `reason` says why."""

    def __init__(self, reason: CodeProblem, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_character(body: str) -> str:
    """The Luhn mod 32 check character for a string of alphabet characters."""
    total, factor = 0, 2
    for char in reversed(body):
        addend = factor * _VALUE[char]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHABET[(32 - total % 32) % 32]


def new_code() -> str:
    """A fresh random record code in canonical form (18 characters, no separators)."""
    bits = secrets.randbits(5 * RANDOM_CHARS)  # one read of the OS's generator, not 17
    body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(RANDOM_CHARS))
    return body + check_character(body)


def normalize(text: str) -> str:
    """The canonical form of a typed code, or CodeError saying what is wrong with it."""
    code = text.strip().upper().translate(_READ_AS)
    if len(code) != LENGTH:
        raise CodeError(
            CodeProblem.LENGTH, f"a record code has {LENGTH} characters, not {len(code)}"
        )
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        raise CodeError(CodeProblem.CHARACTER, f"a record code cannot contain {''.join(bad)!r}")
    if check_character(code[:-1]) != code[-1]:
        raise CodeError(
            CodeProblem.CHECK, "the check character does not match: a character is mistyped"
        )
    return code


def display(code: str) -> str:
    """The grouped form printed under a QR code: 7K3M9Q-XD4RTW-2HVBPZ."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))
