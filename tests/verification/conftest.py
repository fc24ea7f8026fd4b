"""Fixtures of the verification tests: real RFC 3161 TSAs (tests/tsa.py) and
a real EVM node (tests/chain.py)."""

from tests.chain import anvil, chain_configured  # noqa: F401 - fixtures
from tests.tsa import authorities, configured  # noqa: F401 - fixtures
