"""Fixtures of the anchoring tests: real RFC 3161 TSAs (tests/tsa.py)."""

from tests.tsa import authorities, configured  # noqa: F401 - fixtures
