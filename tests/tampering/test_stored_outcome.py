"""A verification's own row changed as a superuser: a file that is not the record's is
never answered, shown, listed or certified as verified (Verification.outcome_now)."""

import json

import pytest

from tests.court_ledger import sha
from tests.tampering.conftest import superuser_sql

pytestmark = pytest.mark.django_db(transaction=True)


def _outcomes(client, verification_id: str, batch: str) -> dict[str, str]:
    """The outcome as the API, the result page, the batch API, the bundle and the
    certificate's page give it."""
    answer = client.get(f"/api/v1/verifications/{verification_id}").json()
    page = client.get(f"/verifications/{verification_id}").content.decode()
    shown = page.split('data-outcome="', 1)[1].split('"', 1)[0]
    listed = client.get(f"/api/v1/verifications/batch/{batch}").json()["items"][0]["outcome"]
    number = answer["certificate"]["number"] if answer.get("certificate") else None
    bundle = client.get(f"/c/{number}/bundle.json")
    certified = json.loads(bundle.content)["verification"]["outcome"]
    certificate_page = client.get(f"/c/{number}").content.decode()
    found = certificate_page.split('data-outcome="', 1)[1].split('"', 1)[0]
    return {
        "api": answer["outcome"],
        "page": shown,
        "batch": listed,
        "bundle": certified,
        "certificate page": found,
    }


def _as_a_batch(verification_id: str, batch: str) -> None:
    superuser_sql(
        "UPDATE verification_verification SET batch = %s, batch_position = 0 WHERE id = %s",
        [batch, verification_id],
    )


def test_a_stranger_file_made_verified_in_the_database_is_answered_conflict(client, ledger):
    genuine = client.post(
        "/api/v1/verifications",
        {"sha256": sha(ledger.evidence_bytes)},
        content_type="application/json",
    ).json()
    _as_a_batch(genuine["id"], "genuine")
    assert set(_outcomes(client, genuine["id"], "genuine").values()) == {"verified"}

    stranger = client.post(
        "/api/v1/verifications", {"sha256": "ab" * 32}, content_type="application/json"
    ).json()
    assert stranger["outcome"] == "not_found"
    # An attacker marks the stranger's verification verified, for the genuine record.
    superuser_sql(
        "UPDATE verification_verification SET outcome = 'verified', record_id = %s WHERE id = %s",
        [ledger.evidence.pk, stranger["id"]],
    )
    _as_a_batch(stranger["id"], "forged")
    assert set(_outcomes(client, stranger["id"], "forged").values()) == {"conflict"}


def test_a_stranger_file_made_verified_for_a_plain_anchor_is_answered_conflict(client, ledger):
    """A ledger entry with no record row: the verified row stands only while that entry
    holds the file's digests."""
    anchored = client.post(
        "/api/v1/verifications", {"sha256": sha(ledger.anchored)}, content_type="application/json"
    ).json()
    assert anchored["outcome"] == "verified" and anchored["record"] is None
    _as_a_batch(anchored["id"], "anchored")
    assert set(_outcomes(client, anchored["id"], "anchored").values()) == {"verified"}

    stranger = client.post(
        "/api/v1/verifications", {"sha256": "cd" * 32}, content_type="application/json"
    ).json()
    superuser_sql(
        "UPDATE verification_verification SET outcome = 'verified', ledger_index = %s, "
        "tree_size = %s WHERE id = %s",
        [anchored["ledger_index"], anchored["tree_size"], stranger["id"]],
    )
    _as_a_batch(stranger["id"], "forged")
    assert set(_outcomes(client, stranger["id"], "forged").values()) == {"conflict"}
