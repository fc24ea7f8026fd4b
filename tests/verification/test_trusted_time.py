"""The `timestamp` step of a verification: trusted time from real TSAs, pending without it,
failed (never trusted time) when the evidence is wrong."""

from __future__ import annotations

import pytest

from anchoring import store, timestamps
from anchoring.models import CheckpointTimestamp
from tests.court_ledger import check, sha
from tests.tsa import authorities, configured  # noqa: F401 - fixtures
from verification.models import Verification

V = Verification.Outcome


def _step(v: Verification):
    return v.steps.get(name="timestamp")


def test_without_a_token_the_time_is_the_courts_clock_and_pending(ledger):
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED, [(s.name, s.explanation_en) for s in v.steps.all()]
    step = _step(v)
    assert step.status == "inconclusive"
    assert "court's own clock" in step.explanation_en and "pending" in step.explanation_en
    assert "法院自己的时钟" in step.explanation_zh


def test_a_timestamped_checkpoint_gives_trusted_time_from_the_earliest_token(ledger, configured):
    assert timestamps.timestamp_newest() == 2
    size = store.latest_checkpoint().tree_size
    rows = timestamps.for_size(size)
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED
    step = _step(v)
    assert step.status == "passed", step.explanation_en
    earliest = min(rows, key=lambda r: r.gen_time)
    assert step.detail["tsa"] == earliest.tsa and step.detail["size"] == size
    assert "no later than" in step.explanation_en and earliest.tsa in step.explanation_en
    assert step.explanation_zh.startswith("本记录最迟于")
    assert not step.detail["development"]


def test_an_earlier_covering_checkpoint_is_proven_in_the_same_history(ledger, configured):
    from tests.anchoring.ledger import grow_ledger

    timestamps.timestamp_newest()
    first = store.latest_checkpoint().tree_size
    grow_ledger(3, start=100)  # the ledger grows; the verification uses a newer checkpoint
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.tree_size > first
    step = _step(v)
    assert step.status == "passed" and step.detail["size"] == first


def test_a_token_that_fails_its_check_is_never_trusted_time(ledger, configured, settings):
    settings.LEDGER_TSA_URLS = settings.LEDGER_TSA_URLS[:1]
    timestamps.timestamp_newest()
    row = CheckpointTimestamp.objects.get()
    token = bytearray(row.token)
    token[-8] ^= 1
    CheckpointTimestamp.objects.create(
        checkpoint=row.checkpoint,
        tsa=row.tsa,
        url="http://forged.example/",
        token=bytes(token),
        gen_time=row.gen_time,
        ca=row.ca,
        received_at=row.received_at,
    )
    v = check(sha256=sha(ledger.judgment_pdf))
    step = _step(v)
    assert step.status == "failed" and "not trusted time" in step.explanation_en
    assert "no later than" not in step.explanation_en
    assert v.outcome == V.INCONCLUSIVE


def test_tokens_of_an_unpinned_authority_are_not_checked_and_leave_it_pending(
    ledger, configured, settings
):
    timestamps.timestamp_newest()
    settings.LEDGER_TSA_CA_FILES = []
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED
    step = _step(v)
    assert step.status == "inconclusive" and "tsa-ca" in step.explanation_en


@pytest.mark.parametrize("backend", ["http"])
def test_the_http_backend_gives_the_same_trusted_time(
    ledger, configured, settings, live_server, backend
):
    from anchoring import keys

    timestamps.timestamp_newest()
    settings.LEDGER_BACKEND = backend
    settings.LEDGER_BACKEND_URL = live_server.url
    settings.LEDGER_VERIFIER_KEY = keys.vkey()
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED
    assert _step(v).status == "passed"
