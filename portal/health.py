"""What the health endpoint reports: database, broker, ledger and its integrity, each checked
for real."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.utils import timezone

from plumbing import tasks


def database() -> dict:
    """Whether a query runs on the configured database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down"; say which
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}


def broker() -> dict:
    """Whether the Celery broker answers; in-process tasks need no broker."""
    if tasks.in_process():
        return {"ok": True, "mode": "in-process"}
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "mode": "broker"}
    except Exception as exc:
        return {"ok": False, "mode": "broker", "error": type(exc).__name__}


def ledger() -> dict:
    """The ledger's size, the age of its newest checkpoint and its pool of submissions."""
    from anchoring import keys, store
    from anchoring.models import Submission

    try:
        cp = store.latest_checkpoint()
        pending = Submission.objects.count()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    report = {
        "ok": cp is not None,
        "origin": settings.LEDGER_ORIGIN,
        "tree_size": cp.tree_size if cp else None,
        "checkpoint_age_seconds": (
            round((timezone.now() - cp.created_at).total_seconds(), 1) if cp else None
        ),
        "pending": pending,
        "sequencer": settings.LEDGER_SEQUENCER,
        "signing_key": keys.has_signing_key(),
    }
    if cp is None:
        report["error"] = "no checkpoint yet"
    return report


def integrity() -> dict:
    """The last ledger_fsck run and the open alarms.

    Unhealthy when the ledger is known to be corrupted: an open sequencer alarm about the
    ledger itself (it signs nothing until an operator repairs the log; a malformed pool row
    it dropped is counted, not corruption) or a last ledger_fsck run that found
    discrepancies. Other open alarms (a submitter's, a verification's, a download's) are
    counted but do not by themselves make the portal unhealthy: each concerns one record,
    which verification already refuses to call verified, and the next ledger_fsck run
    confirms it or not.
    """
    from django.db.models import Count

    from anchoring.models import Alarm, FsckRun
    from anchoring.sequencer import CORRUPTION_SUBJECT

    try:
        last = FsckRun.objects.order_by("-started_at").first()
        by_source = dict(
            Alarm.objects.filter(resolved_at__isnull=True)
            .values_list("source")
            .annotate(n=Count("id"))
            .order_by()
        )
        corruption = (
            Alarm.objects.filter(
                resolved_at__isnull=True,
                source=Alarm.Source.SEQUENCER,
                subject=CORRUPTION_SUBJECT,
            )
            .order_by("raised_at")
            .first()
        )
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    corrupted = corruption is not None
    fsck_failed = last is not None and last.exit_code == 1
    report = {
        "ok": not corrupted and not fsck_failed,
        "open_alarms": sum(by_source.values()),
        "open_alarms_by_source": by_source,
        "last_fsck": None,
    }
    if last is not None:
        report["last_fsck"] = {
            "started_at": last.started_at.isoformat(),
            "age_seconds": round((timezone.now() - last.started_at).total_seconds(), 1),
            "exit_code": last.exit_code,
            "clean": last.exit_code == 0,
            "discrepancies": last.discrepancies,
            "summary": last.summary,
        }
    if corruption is not None:
        report["error"] = "the ledger is corrupted: the sequencer signs nothing more"
        report["corrupted"] = {
            "first_bad_index": corruption.first_bad_index,
            "since": corruption.raised_at.isoformat(),
            "message": corruption.message,
        }
    elif fsck_failed and last is not None:
        report["error"] = f"the last ledger_fsck found {last.discrepancies} discrepancies"
    return report


def report() -> tuple[bool, dict]:
    """All checks; healthy only when every part is."""
    parts = {"database": database(), "broker": broker()}
    parts["ledger"] = ledger() if parts["database"]["ok"] else {"ok": False}
    parts["integrity"] = integrity() if parts["database"]["ok"] else {"ok": False}
    healthy = all(part["ok"] for part in parts.values())
    return healthy, {"status": "ok" if healthy else "unhealthy", **parts}
