"""Cluster-wide "only one of us at a time" for the ledger's background jobs.

A PostgreSQL session advisory lock taken without waiting: the publisher, the timestamper
and the chain anchorer each run in one process at a time, whichever gets there first.
SQLite deployments run one process, so the lock is always theirs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection


@contextlib.contextmanager
def held(lock_id: int) -> Iterator[bool]:
    """Whether this process holds lock `lock_id` for the block (False: another one does)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        mine = cursor.fetchone()[0]
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
