"""Every outcome of a verification, and every step's reason, on a real ledger."""

import pytest
from django.db import connection

from anchoring import store
from anchoring.digest import digests
from tests.court_ledger import check, sha
from verification import trust
from verification.models import Verification

V = Verification.Outcome


def _steps(v: Verification) -> dict[str, str]:
    return {s.name: s.status for s in v.steps.all()}


def test_a_served_judgment_is_verified_with_every_service_event(ledger):
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED, [(s.name, s.explanation_en) for s in v.steps.all()]
    assert v.record == ledger.judgment
    steps = list(v.steps.values_list("name", "status"))
    names = [name for name, _ in steps]
    assert names[:8] == [
        "digest",
        "lookup",
        "record",
        "leaf",
        "checkpoint",
        "witnesses",
        "inclusion",
        "consistency",
    ]
    assert names[8] == "timestamp"  # trusted time: pending, no TSA has timestamped it yet
    assert names[9:] == ["service:issued", "service:sent", "service:opened", "service:acknowledged"]
    assert all(status == "passed" for name, status in steps if name != "timestamp")
    assert dict(steps)["timestamp"] == "inconclusive"
    assert v.ledger_index == ledger.judgment.ledger_index


def test_the_file_against_its_own_code_is_verified_and_sm3_alone_works(ledger):
    sha256, sm3 = digests(ledger.evidence_bytes)
    assert check(sha256=sha256.hex(), code=ledger.evidence.code).outcome == V.VERIFIED
    assert check(sm3=sm3.hex()).outcome == V.VERIFIED


def test_a_code_alone_verifies_the_record_itself(ledger):
    v = check(code=ledger.judgment.code, source=Verification.Source.CODE)
    assert v.outcome == V.VERIFIED
    assert "content" not in _steps(v)


def test_a_plainly_anchored_file_is_verified_without_a_record(ledger):
    v = check(sha256=sha(ledger.anchored))
    assert v.outcome == V.VERIFIED
    assert v.record is None


def test_an_unknown_file_is_not_found(ledger):
    v = check(sha256=sha(b"a file no court recorded"))
    assert v.outcome == V.NOT_FOUND
    assert _steps(v)["lookup"] == "failed"


def test_an_unknown_code_is_not_found(ledger):
    from documents.codes import new_code

    v = check(code=new_code(), sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.NOT_FOUND
    assert _steps(v)["record"] == "failed"


def test_a_changed_copy_against_its_code_is_a_mismatch(ledger):
    changed = bytearray(ledger.judgment_pdf)
    changed[-10] ^= 1
    v = check(sha256=sha(bytes(changed)), code=ledger.judgment.code)
    assert v.outcome == V.MISMATCH
    assert _steps(v)["content"] == "failed"
    assert v.record == ledger.judgment


def test_the_ledger_unreachable_is_inconclusive_never_invalid(ledger, settings):
    settings.LEDGER_BACKEND = "http"
    settings.LEDGER_BACKEND_URL = "http://127.0.0.1:1"  # nothing listens there
    settings.VERIFY_MAX_RETRIES = 0
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.INCONCLUSIVE
    [step] = v.steps.all()
    assert step.status == "inconclusive"
    assert "does not mean the file is invalid" in step.explanation_en


def test_the_http_backend_verifies_against_another_deployment(ledger, settings, live_server):
    from anchoring import keys

    settings.LEDGER_BACKEND = "http"
    settings.LEDGER_BACKEND_URL = live_server.url
    settings.LEDGER_VERIFIER_KEY = keys.vkey()
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.VERIFIED, [(s.name, s.explanation_en) for s in v.steps.all()]


def test_a_wrong_pinned_key_makes_the_checkpoint_fail(ledger, settings):
    from anchoring.note import new_signer_key

    settings.LEDGER_VERIFIER_KEY = new_signer_key(settings.LEDGER_ORIGIN)[1]
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.INCONCLUSIVE
    assert _steps(v)["checkpoint"] == "failed"


# --- Tamper evidence: change the ledger behind the application's back --------------------


LEDGER_TABLES = (
    "anchoring_entry",
    "anchoring_tile",
    "anchoring_checkpoint",
    "anchoring_publishedcheckpoint",
)


@pytest.fixture
def tamper():
    """Run SQL on the ledger tables with their append-only triggers switched off."""

    def run(sql: str, params=()) -> None:
        with connection.cursor() as cursor:
            for table in LEDGER_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            for table in LEDGER_TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        store.forget_tiles()
        # As if the process's checkpoint copies had expired (VERIFY_CHECKPOINT_CACHE_SECONDS);
        # test_checkpoint_copies_expire_and_a_rollback_still_fails waits for it for real.
        trust.forget()

    return run


def test_an_altered_entry_is_never_verified(ledger, tamper):
    index = ledger.judgment.ledger_index
    tamper(
        "UPDATE anchoring_entry SET data = set_byte(data, 5, get_byte(data, 5) # 1) "
        'WHERE "index" = %s',
        [index],
    )
    v = check(sha256=sha(ledger.judgment_pdf))
    # The entry no longer commits to the record row: the row and the ledger disagree.
    assert v.outcome == V.CONFLICT
    assert _steps(v)["ledger_agreement"] == "failed"


def test_a_swapped_digest_in_an_entry_is_never_verified(ledger, tamper):
    # A forger rewrites the evidence entry to claim another file's digests.
    forged = digests(b"forged evidence")
    tamper(
        'UPDATE anchoring_entry SET sha256 = %s WHERE "index" = %s',
        [forged[0], ledger.evidence.ledger_index],
    )
    v = check(sha256=forged[0].hex())
    assert v.outcome != V.VERIFIED
    assert _steps(v)["leaf"] == "failed"


def test_an_altered_full_tile_is_never_verified(ledger, tamper):
    from tests.anchoring.ledger import grow_ledger

    grow_ledger(300)  # the evidence's tile is now full and stored
    # Both checks of the portal see the same grown ledger before the tampering.
    assert check(sha256=sha(ledger.evidence_bytes)).outcome == V.VERIFIED
    # Alter the stored hash of entries 0-3, which the evidence's proof (entry 5) reads:
    # in the tile's inner hashes, after the 128 hashes of the level above the leaves.
    tamper(
        'UPDATE anchoring_tile SET "inner" = set_byte("inner", 128 * 32, '
        'get_byte("inner", 128 * 32) # 1) WHERE level = 0 AND "index" = 0'
    )
    v = check(sha256=sha(ledger.evidence_bytes))
    assert v.outcome == V.INCONCLUSIVE
    assert _steps(v)["inclusion"] == "failed"


def test_an_altered_entry_under_a_partial_tile_is_never_verified(ledger, tamper):
    # Entry 0 is the judgment; its hash is a sibling in the evidence's inclusion proof.
    tamper(
        "UPDATE anchoring_entry SET data = set_byte(data, 20, get_byte(data, 20) # 1) "
        'WHERE "index" = 0'
    )
    v = check(sha256=sha(ledger.evidence_bytes))
    assert v.outcome == V.INCONCLUSIVE
    assert _steps(v)["inclusion"] == "failed"


def test_an_altered_checkpoint_is_never_verified(ledger, tamper):
    tamper(
        "UPDATE anchoring_publishedcheckpoint SET note = replace(note, "
        "split_part(note, E'\\n', 3), 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=') "
        "WHERE tree_size = (SELECT max(tree_size) FROM anchoring_publishedcheckpoint)"
    )
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.INCONCLUSIVE
    assert _steps(v)["checkpoint"] == "failed"


def test_a_rolled_back_ledger_fails_consistency(ledger, tamper):
    assert check(sha256=sha(ledger.anchored)).outcome == V.VERIFIED  # the portal trusts size N
    tamper(
        "DELETE FROM anchoring_publishedcheckpoint WHERE tree_size = "
        "(SELECT max(tree_size) FROM anchoring_publishedcheckpoint)"
    )
    v = check(sha256=sha(ledger.evidence_bytes))
    assert v.outcome == V.INCONCLUSIVE
    assert _steps(v)["consistency"] == "failed"


# --- The process's copies of the newest and the trusted checkpoint -----------------------


def _checkpoint_reads(run) -> tuple[int, int]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run()
    sql = [q["sql"] for q in queries.captured_queries]
    return (
        sum('FROM "anchoring_publishedcheckpoint"' in q for q in sql),
        sum('FROM "verification_trustedcheckpoint"' in q for q in sql),
    )


def test_checkpoint_copies_save_reads_and_never_outrun_the_proof(ledger, settings):
    from tests.anchoring.ledger import grow_ledger

    settings.VERIFY_CHECKPOINT_CACHE_SECONDS = 60
    # The first: newest checkpoint, trusted one, then get_or_create of the new trust.
    assert _checkpoint_reads(lambda: check(sha256=sha(ledger.anchored))) == (1, 2)
    size = Verification.objects.get(sha256=sha(ledger.anchored)).tree_size
    # The same checkpoint again: the process's copies, no read of either.
    assert _checkpoint_reads(lambda: check(sha256=sha(ledger.evidence_bytes))) == (0, 0)
    assert Verification.objects.get(sha256=sha(ledger.evidence_bytes)).tree_size == size
    # An entry the copy does not cover: the newest checkpoint is read, proven, trusted.
    grow_ledger(5)
    new = check(sha256=sha(b"file 4"))
    assert new.outcome == V.VERIFIED, [(s.name, s.explanation_en) for s in new.steps.all()]
    assert new.tree_size == size + 5 and new.ledger_index == size + 4
    assert _steps(new)["consistency"] == "passed"
    # An older entry then uses the newer copy (the inclusion proof is made to it).
    v = check(sha256=sha(ledger.anchored))
    assert v.outcome == V.VERIFIED and v.tree_size == size + 5


def test_checkpoint_copies_expire_and_a_rollback_still_fails(ledger, settings, monkeypatch):
    settings.VERIFY_CHECKPOINT_CACHE_SECONDS = 60
    assert check(sha256=sha(ledger.anchored)).outcome == V.VERIFIED  # copies of size N
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE anchoring_publishedcheckpoint DISABLE TRIGGER USER")
        cursor.execute(
            "DELETE FROM anchoring_publishedcheckpoint WHERE tree_size = "
            "(SELECT max(tree_size) FROM anchoring_publishedcheckpoint)"
        )
        cursor.execute("ALTER TABLE anchoring_publishedcheckpoint ENABLE TRIGGER USER")
    store.forget_tiles()
    # Within the copy's lifetime the process still reports the checkpoint it proved.
    assert check(sha256=sha(ledger.anchored)).outcome == V.VERIFIED
    later = trust.time.monotonic() + 61
    monkeypatch.setattr(trust.time, "monotonic", lambda: later)
    v = check(sha256=sha(ledger.evidence_bytes))
    assert v.outcome == V.INCONCLUSIVE
    assert _steps(v)["consistency"] == "failed"


def test_a_checkpoint_trusted_since_the_copy_is_read_again_not_called_a_rollback(ledger, settings):
    from tests.anchoring.ledger import grow_ledger
    from verification.models import TrustedCheckpoint

    settings.VERIFY_CHECKPOINT_CACHE_SECONDS = 60
    assert check(sha256=sha(ledger.anchored)).outcome == V.VERIFIED  # copies of size N
    grow_ledger(3)
    # Another process trusts the new checkpoint; this one's trusted copy is dropped.
    newest = store.latest_checkpoint()
    TrustedCheckpoint.objects.create(
        tree_size=newest.tree_size, root_hash=bytes(newest.root_hash).hex(), note=newest.note
    )
    trust.trusted_copy.forget()
    v = check(sha256=sha(ledger.evidence_bytes))
    assert v.outcome == V.VERIFIED, [(s.name, s.explanation_en) for s in v.steps.all()]
    assert v.tree_size == newest.tree_size


def test_a_ledger_missing_a_tile_row_is_could_not_check_never_a_500(
    ledger, tamper, settings, client
):
    """A tile the signed tree needs is gone: every verification says inconclusive (the
    step could not be completed), the operators get an alarm, no answer is a 500."""
    from anchoring.models import Alarm
    from documents.codes import display
    from tests.anchoring.ledger import grow_ledger

    settings.VERIFY_MAX_RETRIES = 0
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the job the API queues runs here
    grow_ledger(600)  # the court's entries are in tile 0/000, and 0/001 is full
    tamper('DELETE FROM anchoring_tile WHERE level = 0 AND "index" = 1')
    v = check(sha256=sha(ledger.judgment_pdf))
    assert v.outcome == V.INCONCLUSIVE, [(s.name, s.explanation_en) for s in v.steps.all()]
    assert Alarm.objects.filter(resolved_at__isnull=True).exists()
    response = client.post(
        "/api/v1/verifications", {"sha256": sha(ledger.evidence_bytes)}, "application/json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["outcome"] == V.INCONCLUSIVE
    assert client.get(f"/v/{display(ledger.judgment.code)}").status_code == 200
