"""Fixtures shared by the whole suite. Database tests run on real PostgreSQL only."""

import threading
import uuid

import pytest
from django.db import connection

# A small court ledger (court, served judgment, evidence, anchor) for any test folder.
pytest_plugins = ["tests.court_ledger"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The suite's promises hold on PostgreSQL; refuse to run database tests elsewhere."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit("The suite needs PostgreSQL: run it with `make test`.", returncode=2)
        _quick_flush(connection)


def _quick_flush(conn) -> None:
    """Empty the test database after each transactional test with DELETE, not TRUNCATE.

    TRUNCATE of every table makes new files for each and syncs them: a quarter of a second
    after every test that commits, minutes over the suite, for tables holding a few rows.
    DELETE with triggers off (session_replication_role, a superuser's setting: the
    append-only triggers and foreign keys stay out of the way of emptying everything) takes
    milliseconds. A role that may not set it keeps Django's TRUNCATE.
    """
    with conn.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            return
    ops = type(conn.ops)
    truncate = ops.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        deletes = [f"DELETE FROM {self.quote_name(table)}" for table in tables]
        return ["SET LOCAL session_replication_role = replica", *deletes]

    ops.sql_flush = sql_flush


@pytest.fixture(autouse=True)
def _token_uses_written_at_once(settings):
    """Each test's token uses are written in its requests, so none lands in a later test's
    database; the buffered writing has tests of its own (tests/documents)."""
    settings.COURT_AUDIT_FLUSH_SECONDS = 0


@pytest.fixture(autouse=True)
def _own_rate_counters(monkeypatch):
    """Each test counts its requests against the rate limits afresh, in counters no other
    test shares, nor another run of the suite on the same Redis."""
    from plumbing.throttling import CountingRateThrottle

    namespace = uuid.uuid4().hex[:12]
    monkeypatch.setattr(
        CountingRateThrottle, "cache_format", f"throttle_%(scope)s_{namespace}_%(ident)s"
    )


@pytest.fixture(autouse=True)
def _fresh_tile_cache():
    """Each test builds its own log in a fresh database; cached tiles (and checkpoints) of
    the last one lie."""
    from anchoring import sequencer, store
    from verification import trust

    store.forget_tiles()
    trust.forget()
    sequencer.forget_signed()
    yield
    store.forget_tiles()
    trust.forget()
    sequencer.forget_signed()


@pytest.fixture
def running_sequencer(settings, transactional_db):
    """The real sequencer loop in a thread at a short period, stopped after the test.

    Code under test waits for the ledger, so these tests commit (transactional_db)."""
    from anchoring import sequencer

    settings.LEDGER_SEQUENCER = "off"
    settings.LEDGER_BATCH_PERIOD = 0.05
    stop = threading.Event()
    thread = threading.Thread(target=sequencer.run, args=(stop,))
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)
