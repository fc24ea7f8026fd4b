"""The log of court token uses (TokenUse rows), written in bulk.

Every request made with a court token is logged. Written one by one, each row was an
INSERT and a commit (a WAL flush) of its own in the request: a tenth of a court request's
Python time, and the largest group of PostgreSQL waits after the token row lock. Here a
request only appends its row to this process's buffer; a background thread writes the
buffer with one multi-row INSERT every COURT_AUDIT_FLUSH_SECONDS, or as soon as it holds
COURT_AUDIT_FLUSH_ROWS rows, and once more when the process exits normally.

So a use appears in the admin up to COURT_AUDIT_FLUSH_SECONDS after its answer, and a
process killed outright (SIGKILL, power loss) loses the uses of its last interval at
most. COURT_AUDIT_FLUSH_SECONDS = 0 writes each row in its request, as before.
"""

from __future__ import annotations

import atexit
import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connection

from documents.models import TokenUse
from plumbing import bulk

log = logging.getLogger(__name__)


class _Buffer:
    """This process's unwritten TokenUse rows, and the thread that writes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[TokenUse] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, row: TokenUse) -> None:
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= settings.COURT_AUDIT_FLUSH_ROWS
            # Started here, not at import: a forked process (gunicorn) gets its own thread.
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="token-uses", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.COURT_AUDIT_FLUSH_SECONDS or 1.0)
            self._wake.clear()
            self.flush()
            connection.close()  # back to the pool between flushes

    def flush(self) -> int:
        """Write every buffered row now; return how many were written."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            bulk.insert(TokenUse, rows)
            return len(rows)
        except DatabaseError:
            log.exception(
                "writing %d token uses in bulk failed; writing them one by one", len(rows)
            )
            connection.close()
        written = 0
        for row in rows:  # one bad row (its token deleted since) must not lose the others
            try:
                row.pk = None
                row.save(force_insert=True)
                written += 1
            except DatabaseError:
                log.exception("token use not logged: %s %s %s", row.method, row.path, row.status)
                connection.close()
        return written


_buffer = _Buffer()


def log_use(token, method: str, path: str, status: int, ip: str | None) -> None:
    """Log one use of a court token: buffered, or at once with COURT_AUDIT_FLUSH_SECONDS 0."""
    row = TokenUse(token=token, method=method, path=path[:300], status=status, ip=ip)
    if settings.COURT_AUDIT_FLUSH_SECONDS <= 0:
        row.save(force_insert=True)
    else:
        _buffer.add(row)


def flush() -> int:
    """Write this process's buffered token uses now (at exit, and for tests)."""
    return _buffer.flush()


atexit.register(flush)
