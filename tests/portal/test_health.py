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


def test_home_page_shows_the_ledger_size_in_both_languages(client):
    sequencer.integrate()
    page = client.get("/").content.decode()
    assert "核验法院文书的真实性" in page
    assert "The ledger holds <strong>0</strong> entries" in page


def test_the_api_documentation_uses_no_outside_assets(client):
    import re

    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the page loads its script"
    assert all(a.startswith("/") for a in assets), assets
