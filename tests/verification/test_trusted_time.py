"""The `timestamp` step of a verification: trusted time from real TSAs, pending without it,
failed (never trusted time) when the evidence is wrong."""

from __future__ import annotations

import pytest

from anchoring import store, timestamps
from anchoring.models import CheckpointTimestamp
from tests import judicial_verify
from tests.court_ledger import check, sha
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


# --- Proof bundles and judicial-verify ----------------------------------------------------


@pytest.fixture
def stamped_bundle(ledger, configured, tmp_path):
    """A certificate's bundle whose verification had trusted time, and the trust policy
    (`manage.py trust_policy`, which pins the TSA CAs of LEDGER_TSA_CA_FILES)."""
    import io
    import json

    from django.core.management import call_command

    from verification import certificate

    timestamps.timestamp_newest()
    v = check(sha256=sha(ledger.judgment_pdf), filename="judgment.pdf")
    assert _step(v).status == "passed"
    issued = certificate.issue(v)
    out = io.StringIO()
    call_command("trust_policy", stdout=out)
    policy = tmp_path / "policy.txt"
    policy.write_text(out.getvalue())
    assert policy.read_text().count("tsa-ca ") == 2
    return json.loads(issued.bundle), policy, issued


def test_the_bundle_carries_the_tokens_and_judicial_verify_checks_them(stamped_bundle, tmp_path):
    bundle, policy, _ = stamped_bundle
    assert len(bundle["timestamps"]["tokens"]) == 2
    code, out = judicial_verify.bundle(bundle, policy, tmp_path)
    assert code == 0, out
    assert "ok  trusted time: entry" in out and "no later than" in out


@pytest.mark.parametrize("edit", ["ca", "consistency_added"])
def test_an_edited_timestamp_fails_at_the_timestamp_step(stamped_bundle, tmp_path, edit):
    """The other TSA's (pinned) CA put beside a token; a hash added to a proof. Every
    value edited one by one: tests/verification/test_bundle_tampering.py."""
    import copy

    bundle, policy, _ = stamped_bundle
    edited = copy.deepcopy(bundle)
    evidence, token = edited["timestamps"], edited["timestamps"]["tokens"][0]
    if edit == "ca":
        token["ca"] = edited["timestamps"]["tokens"][1]["ca"]
    else:
        evidence["consistency"] = [*evidence["consistency"], evidence["inclusion"][0]]
    code, out = judicial_verify.bundle(edited, policy, tmp_path)
    assert code == 1, out
    assert "FAILED at timestamp" in out, out


def test_without_the_tsa_ca_lines_the_tokens_are_listed_not_checked(stamped_bundle, tmp_path):
    bundle, policy, _ = stamped_bundle
    relaxed = tmp_path / "relaxed.txt"
    relaxed.write_text(
        "".join(line for line in policy.read_text().splitlines(True) if "tsa-ca" not in line)
    )
    code, out = judicial_verify.bundle(bundle, relaxed, tmp_path)
    assert code == 0, out
    assert "no 'tsa-ca' of the policy names" in out and "ok  trusted time" not in out


def test_the_certificate_shows_recorded_no_later_than(stamped_bundle, tmp_path):
    """pdftotext reads the trusted time with its authority; the installed judicial-verify
    checks the certificate's tokens in a process of its own."""
    from verification import certificate

    _, policy, issued = stamped_bundle
    v = issued.verification
    when, tsa, development = certificate._recorded_no_later(list(v.steps.all()))
    step = _step(v)
    assert tsa == step.detail["tsa"] and not development
    assert when.endswith(" UTC") and when[:10] == step.detail["gen_time"][:10]
    pdf, flat = judicial_verify.saved_pdf(issued, tmp_path)
    assert f"Recorded no later than {when} (trusted time from {tsa})" in flat
    assert f"记录时间不晚于 {when}" in flat
    run = judicial_verify.certificate(pdf, policy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok  trusted time: entry" in run.stdout and tsa in run.stdout
