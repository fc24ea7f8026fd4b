"""Alarms: where the database and the ledger disagree, the operator is told, loudly.

Every alarm is logged at CRITICAL (logger "ledger.alarm") and kept as an open Alarm row
for /health and the admin. Raise an alarm outside the transaction that found the fault,
or it is rolled back with it.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.db.models import F
from django.utils import timezone

from anchoring.models import Alarm

log = logging.getLogger("ledger.alarm")


def raise_alarm(source: str, message: str, *, subject: str = "", index: int | None = None) -> None:
    """Log and keep an alarm; an open one from the same source about the same subject is
    counted again instead of repeated. Never fails its caller: a database that cannot
    take the row still gets the log line."""
    log.critical("%s: %s%s", source, f"{subject}: " if subject else "", message)
    try:
        updated = Alarm.objects.filter(
            source=source, subject=subject, message=message, resolved_at__isnull=True
        ).update(count=F("count") + 1, last_seen_at=timezone.now())
        if not updated:
            Alarm.objects.create(
                source=source, subject=subject, message=message, first_bad_index=index
            )
    except DatabaseError:
        log.exception("the alarm above could not be stored")
