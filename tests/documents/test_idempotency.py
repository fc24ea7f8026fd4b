"""An Idempotency-Key survives the death of the process holding it.

A process killed with `kill -9` runs no handler: here the request is stopped by an
exception no code of ours catches (a BaseException), at the point the kill would land,
and its key is left as a killed process leaves it. tests/integration kills real
processes under load.
"""

import pytest
from django.db import transaction
from django.utils import timezone

from anchoring import sequencer
from anchoring.models import Entry
from documents import codes, idempotency, ledger, registration
from documents.models import IdempotentRequest, Record, ServiceEvent

pytestmark = pytest.mark.django_db(transaction=True)

DIGESTS = {"sha256": "aa" * 32, "sm3": "bb" * 32, "category": "evidence", "title": "t"}


class Killed(BaseException):
    """What a kill -9 leaves: no except clause of the portal runs."""


def _post(client, path: str, payload: dict, key: str):
    return client.post(path, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _die_while_waiting_for_the_ledger(monkeypatch) -> None:
    """The request dies after its rows are committed, before it answers."""

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(ledger, "await_ledger", killed)
    monkeypatch.setattr(ledger, "await_ledger_many", killed)


def _lease_runs_out() -> None:
    IdempotentRequest.objects.update(lease_until=timezone.now())


def test_a_retry_within_the_lease_is_told_the_request_is_in_progress(owner, monkeypatch):
    _die_while_waiting_for_the_ledger(monkeypatch)
    with pytest.raises(Killed):
        _post(owner, "/api/v1/records", DIGESTS, "k1")
    monkeypatch.undo()
    again = _post(owner, "/api/v1/records", DIGESTS, "k1")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "request_in_progress"


def test_a_retry_after_the_holder_died_answers_for_the_record_it_made(owner, monkeypatch):
    _die_while_waiting_for_the_ledger(monkeypatch)
    with pytest.raises(Killed):
        _post(owner, "/api/v1/records", DIGESTS, "k1")
    monkeypatch.undo()
    made = Record.objects.get()
    _lease_runs_out()

    again = _post(owner, "/api/v1/records", DIGESTS, "k1")
    assert again.status_code == 201, again.content
    assert again.json()["code"] == codes.display(made.code)
    assert Record.objects.count() == 1 and Entry.objects.count() == 1
    replay = _post(owner, "/api/v1/records", DIGESTS, "k1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == again.json()


def test_a_retry_after_the_holder_died_before_committing_records_it_once(owner, monkeypatch):
    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(sequencer, "submit_many", killed)
    with pytest.raises(Killed):
        _post(owner, "/api/v1/records", DIGESTS, "k1")
    monkeypatch.undo()
    assert not Record.objects.exists()
    _lease_runs_out()

    again = _post(owner, "/api/v1/records", DIGESTS, "k1")
    assert again.status_code == 201, again.content
    assert Record.objects.count() == 1 and Entry.objects.count() == 1


def test_a_batch_retried_after_its_holder_died_answers_for_its_records_in_order(owner, monkeypatch):
    body = {"records": [dict(DIGESTS, title=f"item {i}", sha256=f"{i:02x}" * 32) for i in range(3)]}
    _die_while_waiting_for_the_ledger(monkeypatch)
    with pytest.raises(Killed):
        _post(owner, "/api/v1/records/batch", body, "b1")
    monkeypatch.undo()
    _lease_runs_out()

    again = _post(owner, "/api/v1/records/batch", body, "b1")
    assert again.status_code == 201, again.content
    assert [r["title"] for r in again.json()["records"]] == ["item 0", "item 1", "item 2"]
    assert Record.objects.count() == 3


def test_an_event_retried_after_its_holder_died_is_recorded_once(owner, monkeypatch):
    made = _post(owner, "/api/v1/records", dict(DIGESTS, category="litigation_document"), "r")
    assert made.status_code == 201, made.content
    path = f"/api/v1/records/{made.json()['code']}/events"
    _die_while_waiting_for_the_ledger(monkeypatch)
    with pytest.raises(Killed):
        _post(owner, path, {"event": "issued"}, "e1")
    monkeypatch.undo()
    _lease_runs_out()

    again = _post(owner, path, {"event": "issued"}, "e1")
    assert again.status_code == 201, again.content
    assert again.json()["event"] == "issued"
    assert ServiceEvent.objects.count() == 1


def test_a_request_whose_key_was_taken_over_records_nothing(owner, monkeypatch):
    """The holder was only slow: a retry took its key over, so it must not write."""
    real = registration.register_many

    def taken_over_meanwhile(news):
        IdempotentRequest.objects.update(owner="the retry")
        return real(news)

    monkeypatch.setattr(registration, "register_many", taken_over_meanwhile)
    answer = _post(owner, "/api/v1/records", DIGESTS, "k1")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "request_in_progress"
    assert not Record.objects.exists()


def test_only_one_of_two_concurrent_retries_takes_a_key_over(court):
    claim = IdempotentRequest.objects.create(
        court=court, key="k", fingerprint="f", owner="dead", lease_until=timezone.now()
    )
    first, second = (IdempotentRequest.objects.get(pk=claim.pk) for _ in range(2))
    assert idempotency._take_over(first) is True
    assert idempotency._take_over(second) is False


def test_fence_refuses_a_claim_held_by_another_request(court):
    claim = IdempotentRequest.objects.create(
        court=court, key="k", fingerprint="f", owner="me", lease_until=timezone.now()
    )
    with transaction.atomic():
        idempotency.fence([claim, None])  # held: nothing raised
    IdempotentRequest.objects.filter(pk=claim.pk).update(owner="someone else")
    with pytest.raises(idempotency.ClaimLost), transaction.atomic():
        idempotency.fence([claim])
