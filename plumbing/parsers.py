"""The API's JSON parser: DRF's, with a bound on the body's size and on its nesting.

Python's json module recurses once per level of nesting, so a body nested 100,000 deep
raises RecursionError rather than a parse error, and one nested a few hundred deep still
reaches code that recurses over it. The depth is measured on the text first, in linear
passes of regular expressions that run in C, and a body nested deeper than
API_JSON_MAX_DEPTH is refused unparsed. DRF reads a JSON body whole whatever its size;
here it is read up to DATA_UPLOAD_MAX_MEMORY_SIZE, the bound Django puts on a form.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# The module, not its names: DRF imports this parser while plumbing.errors is importing
# DRF's views (its DEFAULT_PARSER_CLASSES setting), so ApiError is read when it is raised.
from plumbing import error_codes, errors

# Escape pairs go first, so that every quote left opens or closes a string and each
# pattern below is matched in one left-to-right pass.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest: 0 for a scalar, 1 for []."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that refuses a body over the size or nesting limits, unparsed."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise errors.ApiError(error_codes.REQUEST_TOO_LARGE, limit=limit)
        try:
            text = raw.decode((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        depth = settings.API_JSON_MAX_DEPTH
        # The opening brackets bound the depth: most bodies need no closer look.
        if text.count("[") + text.count("{") > depth and nesting_depth(text) > depth:
            raise errors.ApiError(error_codes.JSON_TOO_DEEP, limit=depth)
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:  # a limit set above what Python's json can parse
            raise errors.ApiError(error_codes.JSON_TOO_DEEP, limit=depth) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
