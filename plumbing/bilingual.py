"""The halves of a label declared as "<Chinese> <English>" in one string: the choices of
records and service events, which certificates and verification steps show whole and
pages and the admin show in the reader's language."""

from __future__ import annotations


def half(label: str, language: str) -> str:
    """The Chinese half of `label` (before its first space) for a `zh` language code,
    else the English half; a label without a space is returned as it is."""
    chinese, _, english = str(label).partition(" ")
    return chinese if language.startswith("zh") or not english else english
