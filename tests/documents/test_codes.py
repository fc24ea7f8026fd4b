"""Record codes: randomness, check character, forgiving input."""

import itertools

import pytest

from documents.codes import (
    ALPHABET,
    LENGTH,
    CodeError,
    check_character,
    display,
    new_code,
    normalize,
)


def test_new_codes_are_canonical_distinct_and_valid():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == LENGTH and set(code) <= set(ALPHABET)
        assert normalize(code) == code
    # Every random position takes every character (all 85 bits are used).
    for position in range(LENGTH - 1):
        assert {code[position] for code in codes} == set(ALPHABET)


def test_typing_is_forgiving_about_case_separators_and_look_alikes():
    code = "7K3M9QXD4RTW2HVBP" + check_character("7K3M9QXD4RTW2HVBP")
    typed = display(code).lower().replace("-", " - ")
    assert normalize(typed) == code
    body = "1K3M9Q0D4RTW2HVBP"
    full = body + check_character(body)
    assert normalize(full.replace("1", "l").replace("0", "O")) == full


def test_every_single_character_mistake_is_caught():
    code = new_code()
    for position, wrong in itertools.product(range(LENGTH), ALPHABET):
        if wrong == code[position]:
            continue
        typo = code[:position] + wrong + code[position + 1 :]
        with pytest.raises(CodeError) as excinfo:
            normalize(typo)
        assert excinfo.value.reason == "check"


def test_most_swapped_neighbours_are_caught():
    caught = total = 0
    for _ in range(200):
        code = new_code()
        for i in range(LENGTH - 1):
            if code[i] != code[i + 1]:
                total += 1
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                try:
                    normalize(swapped)
                except CodeError:
                    caught += 1
    assert caught / total > 0.95


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "length"),
        ("7K3M9Q", "length"),
        ("7K3M9QXD4RTW2HVBPU", "character"),
        ("7K3M9QXD4RTW2HVB!8", "character"),
    ],
)
def test_malformed_codes_say_why(text, reason):
    with pytest.raises(CodeError) as excinfo:
        normalize(text)
    assert excinfo.value.reason == reason


def test_display_groups_in_sixes():
    assert display("ABCDEFGHJKMNPQRSTV") == "ABCDEF-GHJKMN-PQRSTV"
