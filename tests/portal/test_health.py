"""The health endpoint checks database, broker and ledger for real."""

import pytest

from anchoring import sequencer

pytestmark = pytest.mark.django_db


def test_healthy_with_postgres_redis_and_a_ledger(client):
    sequencer.integrate()
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["broker"] == {"ok": True, "mode": "broker"}
    assert body["ledger"]["tree_size"] == 0
    assert body["ledger"]["pending"] == 0
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_ledger_without_checkpoint_is_unhealthy(client):
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["ledger"]["error"] == "no checkpoint yet"


def test_broker_down_is_reported(client, settings):
    sequencer.integrate()
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_home_page_shows_the_ledger_size_in_either_language(client):
    sequencer.integrate()
    page = client.get("/").content.decode()
    assert "核验法院文书的真实性" in page
    assert "当前账本共 <strong>0</strong> 条记录" in page
    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The ledger holds <strong>0</strong> entries" in english


def test_the_api_documentation_uses_no_outside_assets(client):
    import re

    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the page loads its script"
    assert all(a.startswith("/") for a in assets), assets


def _fsck_run(exit_code: int, discrepancies: int = 0):
    from django.utils import timezone

    from anchoring.models import FsckRun

    return FsckRun.objects.create(
        started_at=timezone.now(),
        seconds=0.1,
        exit_code=exit_code,
        discrepancies=discrepancies,
        summary="ledger_fsck: ...",
    )


def test_integrity_shows_the_last_fsck_and_the_open_alarms(client):
    from anchoring.alarms import raise_alarm
    from anchoring.models import Alarm

    sequencer.integrate()
    body = client.get("/health").json()
    assert body["integrity"] == {
        "ok": True,
        "open_alarms": 0,
        "open_alarms_by_source": {},
        "last_fsck": None,
    }
    _fsck_run(0)
    # An alarm about one record's rows is shown but leaves the portal healthy.
    raise_alarm(Alarm.Source.VERIFICATION, "a row differs", subject="ABC")
    response = client.get("/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["integrity"]["open_alarms"] == 1
    assert body["integrity"]["open_alarms_by_source"] == {"verification": 1}
    assert body["integrity"]["last_fsck"]["clean"] is True


def test_a_last_fsck_with_discrepancies_makes_the_portal_unhealthy(client):
    sequencer.integrate()
    _fsck_run(1, discrepancies=3)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["integrity"]["error"] == "the last ledger_fsck found 3 discrepancies"
    _fsck_run(0)  # repaired, and checked again
    assert client.get("/health").status_code == 200
    # A run that could not run says so, without making the portal unhealthy.
    _fsck_run(2)
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["integrity"]["last_fsck"]["exit_code"] == 2


def test_an_open_sequencer_alarm_makes_the_portal_unhealthy_until_resolved(client):
    from django.utils import timezone

    from anchoring.alarms import raise_alarm
    from anchoring.models import Alarm

    sequencer.integrate()
    raise_alarm(Alarm.Source.SEQUENCER, "the ledger is corrupted", subject="ledger")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["integrity"]["error"].startswith("the ledger is corrupted")
    Alarm.objects.update(resolved_at=timezone.now())
    assert client.get("/health").status_code == 200
