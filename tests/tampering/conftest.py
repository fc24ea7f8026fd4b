"""Tampering as an attacker with database access would: superuser SQL, triggers off."""

import pytest
from django.db import connection
from rest_framework.throttling import ScopedRateThrottle

from anchoring import store
from anchoring.models import Alarm
from verification import trust

LEDGER_TABLES = (
    "anchoring_entry",
    "anchoring_tile",
    "anchoring_checkpoint",
    "anchoring_publishedcheckpoint",
)


def superuser_sql(sql: str, params=()) -> None:
    """Run SQL as the tables' owner would, with every user trigger switched off."""
    with connection.cursor() as cursor:
        for table in LEDGER_TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            cursor.execute(sql, params)
        finally:
            for table in LEDGER_TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    # Read the changed tables afresh: no tile or checkpoint kept by this process.
    store.forget_tiles()
    trust.forget()


@pytest.fixture
def tamper():
    return superuser_sql


@pytest.fixture(autouse=True)
def _unthrottled(settings, monkeypatch):
    """Many verifications from one client: a private cache and rates no test reaches."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    rates = ScopedRateThrottle.THROTTLE_RATES
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", dict.fromkeys(rates, "100000/minute"))


def open_alarms(source: str | None = None) -> list[Alarm]:
    rows = Alarm.objects.filter(resolved_at__isnull=True)
    return list(rows.filter(source=source) if source else rows)
