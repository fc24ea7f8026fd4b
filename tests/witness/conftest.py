"""Fixtures of the witness's tests: its own key in a temporary folder, and logs to follow."""

import pytest

from tests.witness.fake_log import FakeLog
from witness import keys, registry
from witness.models import Log

WITNESS_NAME = "witness.court-a.example/witness"


@pytest.fixture(autouse=True)
def witness_key(settings, tmp_path):
    """A fresh witness key named WITNESS_NAME, created on first use; no log list."""
    settings.WITNESS_NAME = WITNESS_NAME
    settings.WITNESS_SIGNING_KEY_FILE = tmp_path / "keys" / "witness.key"
    settings.WITNESS_GENERATE_KEY = True
    settings.WITNESS_LOG_LIST = ""
    keys.forget()
    registry.forget()
    yield
    keys.forget()
    registry.forget()


@pytest.fixture
def identity(witness_key):
    return keys.identity()


@pytest.fixture
def fake_log():
    """A log of 10 entries that the witness follows, never cosigned yet."""
    log = FakeLog(size=10)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=86400)
    return log
