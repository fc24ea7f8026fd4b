"""The logs a witness follows: its Log table, and the WITNESS_LOG_LIST file loaded into it.

The table is what add-checkpoint reads. The file, when set, is loaded into it by
`manage.py witness_load_logs`, and by each process before the first request it serves and
again whenever the file changes (its size or modification time): each log of the file
becomes a row marked `from_list` (its vkey, qpd and contact the file's, its cosigned state
kept), and a row from the file that is no longer in it stops being followed (inactive; its
state is kept, so re-listing it never lets a log roll back). Logs added with
`manage.py witness_add_log` or the admin are left alone, unless the file names their
origin: the file wins. A file that does not parse changes nothing and is logged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from anchoring.merkle import EMPTY_ROOT
from witness.identity import Identity
from witness.log_list import ListedLog, LogListError, parse_log_list
from witness.models import Log, origin_hash

log = logging.getLogger(__name__)

_loaded: dict[tuple[str, str], tuple[int, int]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Loaded:
    """What a load of the list did: logs listed, and logs no longer followed."""

    listed: int
    dropped: int


def load_log_list(path: Path, database: str = "default") -> Loaded:
    """Load a log list file into the Log table of `database` (LogListError if malformed)."""
    listed = parse_log_list(path.read_text(encoding="utf-8"))
    return store_listed(listed, database)


def store_listed(listed: list[ListedLog], database: str = "default") -> Loaded:
    """Upsert the listed logs as `from_list` rows; stop following listed rows not in it."""
    rows = [
        Log(
            origin=entry.origin,
            origin_hash=origin_hash(entry.origin),
            vkey=entry.vkey,
            qpd=entry.qpd,
            contact=entry.contact,
            active=True,
            from_list=True,
            root_hash=EMPTY_ROOT,
        )
        for entry in listed
    ]
    with transaction.atomic(using=database):
        # One statement per batch, atomic on PostgreSQL and SQLite: another process loading
        # the same file at once cannot make a second row for an origin.
        Log.objects.using(database).bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["origin_hash"],
            update_fields=["vkey", "qpd", "contact", "active", "from_list"],
        )
        dropped = (
            Log.objects.using(database)
            .filter(from_list=True, active=True)
            .exclude(origin_hash__in=[r.origin_hash for r in rows])
            .update(active=False)
        )
    return Loaded(len(rows), dropped)


def ensure_loaded(identity: Identity) -> None:
    """Load WITNESS_LOG_LIST into the identity's table if this process has not loaded this
    version of the file yet (the deployment's own witness only; one stat per call)."""
    if not settings.WITNESS_LOG_LIST:
        return
    path = Path(settings.WITNESS_LOG_LIST)
    try:
        stat = path.stat()
    except OSError as exc:
        _report_once(identity, path, (-1, -1), f"cannot be read: {exc}")
        return
    key = (str(path), identity.database)
    version = (stat.st_mtime_ns, stat.st_size)
    if _loaded.get(key) == version:
        return
    with _lock:
        if _loaded.get(key) == version:
            return
        try:
            result = load_log_list(path, identity.database)
        except (LogListError, OSError, UnicodeDecodeError) as exc:
            log.error("witness log list %s not loaded: %s", path, exc)
        else:
            log.info(
                "witness log list %s loaded: %d logs, %d no longer followed",
                path,
                result.listed,
                result.dropped,
            )
        _loaded[key] = version


def _report_once(identity: Identity, path: Path, version: tuple[int, int], why: str) -> None:
    key = (str(path), identity.database)
    with _lock:
        if _loaded.get(key) != version:
            log.error("witness log list %s %s", path, why)
            _loaded[key] = version


def forget() -> None:
    """Forget which versions of the file were loaded (tests)."""
    with _lock:
        _loaded.clear()
