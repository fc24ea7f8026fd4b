"""The API side of plumbing.visible_text: a serializer that refuses hidden characters.

The raw input is checked before DRF's fields see it, so a line end that a CharField would
trim, or a NUL it would refuse in words of its own, is answered with the same error:
400 `invalid_characters`, naming the field (dotted, e.g. `parties.1`, `details.note`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from rest_framework import serializers

from plumbing import error_codes
from plumbing.errors import ApiError
from plumbing.visible_text import find_hidden, find_hidden_in

# A form field's name before its index: `parties[0]` and `parties.0` are `parties`.
_FORM_NAME = re.compile(r"[\[.]")


class VisibleTextSerializer(serializers.Serializer):
    """Refuses input whose declared fields hold control, escape, bidi or invisible
    characters; an uploaded file's name and media type count as its field's text."""

    def to_internal_value(self, data: Any) -> Any:
        refuse_hidden(data, set(self.fields))
        return super().to_internal_value(data)


def refuse_hidden(data: object, fields: set[str]) -> None:
    """Raise ApiError `invalid_characters` for the first of `fields` in the request data
    (a JSON object or a form) that holds a refused character."""
    for path, value in _values(data, fields):
        found = find_hidden_in(value, path)
        if found is not None:
            where, finding = found
            kind = error_codes.HIDDEN_CHARACTERS[finding.kind]
            raise ApiError(
                error_codes.INVALID_CHARACTERS,
                field=where,
                name=_FORM_NAME.split(path, maxsplit=1)[0],
                position=finding.position,
                code_point=finding.code_point,
                kind_zh=kind.zh,
                kind_en=kind.en,
            )


def _values(data: object, fields: set[str]) -> Iterator[tuple[str, object]]:
    """(path, value) of each declared field present in the data; a file as its name and
    its media type."""
    if hasattr(data, "getlist"):  # a form: each name may be sent more than once
        for key in data:  # type: ignore[attr-defined]
            name = _FORM_NAME.split(str(key), maxsplit=1)[0]
            if name in fields:
                values = data.getlist(key)
                for i, value in enumerate(values):
                    path = f"{key}.{i}" if len(values) > 1 else str(key)
                    yield from _texts_of(path, value)
    elif isinstance(data, Mapping):
        for key, value in data.items():
            if key in fields:
                yield from _texts_of(str(key), value)


def _texts_of(path: str, value: object) -> Iterator[tuple[str, object]]:
    if hasattr(value, "read") and hasattr(value, "name"):  # an uploaded file
        yield path, getattr(value, "name", "") or ""
        yield path, getattr(value, "content_type", "") or ""
    else:
        yield path, value


@deconstructible
class VisibleText:
    """The same check as a Django field validator (forms, the admin, full_clean()):
    ValidationError `invalid_characters` with the catalogue's zh and en text."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, value: str) -> None:
        found = find_hidden(value)
        if found is None:
            return
        kind = error_codes.HIDDEN_CHARACTERS[found.kind]
        text = error_codes.INVALID_CHARACTERS.message(
            name=self.name,
            position=found.position,
            code_point=found.code_point,
            kind_zh=kind.zh,
            kind_en=kind.en,
        )
        raise ValidationError(f"{text['zh']} {text['en']}", code="invalid_characters")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VisibleText) and other.name == self.name
