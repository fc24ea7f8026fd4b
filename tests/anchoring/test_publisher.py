"""Publication: the log publishes a checkpoint only once its witness quorum cosigned it.

The witness is this project's own witness role served by a live server (real HTTP, real
C2SP add-checkpoint), following this test's log; tests/integration/test_alliance.py runs
three witnesses as processes of their own.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from anchoring import keys, publisher, sequencer, store
from anchoring.cosignature import parse_witness_key
from anchoring.models import PublishedCheckpoint, WitnessState
from anchoring.note import open_note
from tests.anchoring.ledger import grow_ledger
from tests.court_ledger import check, sha
from tests.processes import free_port
from verification import trust
from verification.models import Verification
from witness import keys as witness_keys
from witness.log_list import MAX_QPD
from witness.models import Log

pytestmark = pytest.mark.django_db(transaction=True)

WITNESS = "witness.procuratorate.example/witness"


@pytest.fixture
def witnessed(settings, tmp_path, live_server):
    """This deployment's log with one witness (this project's witness role, over HTTP)
    that must cosign; the witness follows the log."""
    settings.LEDGER_SEQUENCER = "off"
    settings.WITNESS_NAME = WITNESS
    settings.WITNESS_SIGNING_KEY_FILE = tmp_path / "witness.key"
    settings.WITNESS_GENERATE_KEY = True
    settings.WITNESS_LOG_LIST = ""
    settings.LEDGER_WITNESS_TIMEOUT = 5.0
    witness_keys.forget()
    policy = tmp_path / "witness-policy.txt"
    policy.write_text(
        f"witness procuratorate {witness_keys.vkey()} {live_server.url}/witness\n"
        "quorum procuratorate\n"
    )
    settings.LEDGER_WITNESS_POLICY = str(policy)
    Log.objects.create(origin=settings.LEDGER_ORIGIN, vkey=keys.vkey(), qpd=MAX_QPD)
    trust.forget()
    yield policy
    witness_keys.forget()
    trust.forget()


def _cosigned_by_witness(note: str) -> bool:
    verifier = parse_witness_key(witness_keys.vkey())
    try:
        open_note(note, [verifier])
    except ValueError:
        return False
    return True


def test_a_signed_checkpoint_is_published_once_the_witness_cosigns_it(witnessed):
    grow_ledger(5)
    signed = store.latest_signed()
    assert signed.tree_size == 5
    # Integration did not wait: signed, but readers see nothing yet.
    assert store.latest_checkpoint() is None
    assert sequencer.receipt(0) is None

    row = publisher.publisher.publish()
    assert row is not None and row.tree_size == 5 and row.quorum_met
    assert row.note.startswith(signed.note) and _cosigned_by_witness(row.note)
    assert store.latest_checkpoint().tree_size == 5
    assert sequencer.receipt(0).checkpoint == row.note
    state = WitnessState.objects.get(name="procuratorate")
    assert (state.cosigned_size, state.ok, state.last_error) == (5, True, "")
    # Nothing new: nothing sent, nothing published.
    assert publisher.publisher.publish() is None

    grow_ledger(3, start=5)
    row = publisher.publisher.publish()  # old 5 with a consistency proof to 8
    assert row.tree_size == 8 and _cosigned_by_witness(row.note)
    assert Log.objects.get().size == 8


def test_a_witness_that_holds_another_size_answers_409_and_is_asked_again(witnessed):
    grow_ledger(4)
    publisher.publisher.publish()
    # The log forgets what the witness cosigned: its request says old 0, the witness 409 4.
    WitnessState.objects.update(cosigned_size=0)
    grow_ledger(2, start=4)
    row = publisher.publisher.publish()
    assert row is not None and row.tree_size == 6 and _cosigned_by_witness(row.note)
    assert WitnessState.objects.get().cosigned_size == 6


def test_without_the_quorum_nothing_is_published_health_says_why_and_it_resumes(
    witnessed, settings
):
    grow_ledger(3)
    publisher.publisher.publish()
    Log.objects.update(active=False)  # the witness stops following the log: 404
    grow_ledger(2, start=3)
    assert publisher.publisher.publish() is None
    assert store.latest_checkpoint().tree_size == 3  # the published head stays
    assert sequencer.receipt(4) is None  # submitters wait for it
    state = WitnessState.objects.get()
    assert not state.ok and state.failing_since is not None
    assert "HTTP 404" in state.last_error

    settings.LEDGER_WITNESS_TIMEOUT = 0.0  # the newest signed checkpoint has waited longer
    health = Client().get("/health")
    assert health.status_code == 503
    witnesses = health.json()["witnesses"]
    assert not witnesses["ok"] and "procuratorate" in witnesses["error"]
    assert witnesses["members"][0]["error"].startswith("HTTP 404")

    settings.LEDGER_WITNESS_TIMEOUT = 5.0
    Log.objects.update(active=True)  # the witness is back
    row = publisher.publisher.publish()
    assert row.tree_size == 5 and _cosigned_by_witness(row.note)
    assert sequencer.receipt(4).tree_size == 5  # nothing acknowledged was lost
    assert Client().get("/health").json()["witnesses"]["ok"]


def test_fail_open_publishes_uncosigned_and_nothing_under_it_verifies(witnessed, settings):
    settings.LEDGER_WITNESS_FAIL_OPEN = True
    settings.LEDGER_WITNESS_TIMEOUT = 0.2
    witnessed.write_text(  # the witness is not there at all
        f"witness procuratorate {witness_keys.vkey()} http://127.0.0.1:{free_port()}/witness\n"
        "quorum procuratorate\n"
    )
    datas = grow_ledger(2)
    assert publisher.publisher.publish() is None  # refused at once: the timeout runs on
    time.sleep(0.25)
    row = publisher.publisher.publish()
    assert row is not None and not row.quorum_met and row.note == store.latest_signed().note
    assert "unreachable" in WitnessState.objects.get().last_error
    v = check(sha256=sha(b"file 1"))
    steps = {s.name: s for s in v.steps.all()}
    assert v.outcome == Verification.Outcome.INCONCLUSIVE
    assert steps["witnesses"].status == "inconclusive"
    assert "no alliance member cosigned it" in steps["witnesses"].explanation_en
    assert len(datas) == 2


def test_a_verification_names_the_members_that_cosigned(witnessed):
    grow_ledger(3)
    publisher.publisher.publish()
    v = check(sha256=sha(b"file 2"))
    assert v.outcome == Verification.Outcome.VERIFIED, [
        (s.name, s.explanation_en) for s in v.steps.all()
    ]
    step = v.steps.get(name="witnesses")
    assert step.status == "passed" and "procuratorate" in step.explanation_zh
    assert "The quorum is met" in step.explanation_en


def test_a_log_without_witnesses_publishes_in_the_batch_itself(settings):
    settings.LEDGER_WITNESS_POLICY = ""
    grow_ledger(2)
    assert store.latest_checkpoint().note == store.latest_signed().note
    assert PublishedCheckpoint.objects.count() == 2  # the empty tree's and the batch's


def test_judicial_verify_checks_the_quorum_of_a_bundle_our_witness_cosigned(witnessed, tmp_path):
    """The offline verifier, a separate process, counts the witness's cosignature on the
    published checkpoint the certificate carries, with the policy trust_policy prints."""
    from io import StringIO

    from django.core.management import call_command

    from tests.verification.test_certificate import judicial_verify
    from verification import certificate

    grow_ledger(3)
    publisher.publisher.publish()
    v = check(sha256=sha(b"file 0"))
    assert v.outcome == Verification.Outcome.VERIFIED
    bundle = tmp_path / "bundle.json"
    bundle.write_text(certificate.issue(v).bundle)
    out = StringIO()
    call_command("trust_policy", stdout=out)
    assert f"witness procuratorate {witness_keys.vkey()}" in out.getvalue()
    assert "quorum procuratorate" in out.getvalue()
    policy = tmp_path / "policy.txt"
    policy.write_text(out.getvalue())

    done = judicial_verify("bundle", bundle, "--policy", policy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "witness quorum 'procuratorate' satisfied by procuratorate" in done.stdout

    # The same bundle without the witness's line: the quorum is not met, exit 1.
    stripped = tmp_path / "stripped.json"
    text = bundle.read_text()
    line = next(x for x in text.split("\\n") if x.startswith("\u2014 " + WITNESS))
    stripped.write_text(text.replace(line + "\\n", ""))
    failed = judicial_verify("bundle", stripped, "--policy", policy)
    assert failed.returncode == 1 and "witness quorum" in failed.stdout + failed.stderr


def test_the_celery_task_publishes_and_says_what(witnessed):
    from anchoring import tasks

    grow_ledger(2)
    assert tasks.publish() == 2
    assert tasks.publish() is None  # nothing new
    assert _cosigned_by_witness(store.latest_checkpoint().note)
