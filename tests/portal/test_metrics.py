"""/metrics: the Prometheus endpoint answers, and a ledger batch moves its metrics."""

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from anchoring import sequencer
from tests.anchoring.ledger import content_leaf

pytestmark = pytest.mark.django_db


def _scrape(client) -> dict[str, float]:
    """The unlabelled samples of one scrape, by name."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if not sample.labels
    }


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_answers_with_every_metric_of_the_portal(client):
    response = client.get("/metrics")

    text = response.content.decode()
    for name in (
        "ledger_pool_size",
        "ledger_tree_size",
        "ledger_batch_duration_seconds",
        "ledger_batch_entries",
        "ledger_entries_integrated_total",
        "verification_duration_seconds",
        "certificate_duration_seconds",
        "court_registration_duration_seconds",
    ):
        assert f"# TYPE {name} " in text, name


def test_a_batch_moves_the_sequencer_metrics(client):
    sequencer.integrate()  # the empty log's checkpoint: no entries, not a batch
    batches = _value("ledger_batch_duration_seconds_count")
    entries = _value("ledger_entries_integrated_total")
    for i in range(3):
        sequencer.submit(content_leaf(f"metrics {i}".encode()))
    assert _scrape(client)["ledger_pool_size"] == 3

    assert sequencer.integrate() == 3

    assert _value("ledger_batch_duration_seconds_count") == batches + 1
    assert _value("ledger_entries_integrated_total") == entries + 3
    assert _value("ledger_batch_entries_sum") >= 3
    scraped = _scrape(client)
    assert scraped["ledger_pool_size"] == 0
    assert scraped["ledger_tree_size"] == 3
    assert scraped["ledger_entries_integrated_total"] == entries + 3


def test_an_empty_poll_is_not_a_batch():
    sequencer.integrate()
    batches = _value("ledger_batch_duration_seconds_count")

    assert sequencer.integrate() == 0

    assert _value("ledger_batch_duration_seconds_count") == batches


def test_metrics_are_for_the_operators_not_the_public(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 404  # from this host, but no token
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 404
    right = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-secret"
    )
    assert right.status_code == 200 and b"ledger_pool_size" in right.content
