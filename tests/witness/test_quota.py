"""Each log sends at most its qpd add-checkpoint requests a day: then 429 with Retry-After.
Only requests its key signed count, so nobody else can spend a log's budget."""

import pytest

from anchoring.note import Signer
from tests.witness.fake_log import FakeLog
from witness.models import Log

pytestmark = pytest.mark.django_db


def post(client, body: bytes):
    return client.post("/witness/add-checkpoint", data=body, content_type="text/plain")


def test_a_log_over_its_qpd_is_429_with_retry_after(client):
    log = FakeLog(size=3)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=3)
    other = FakeLog("court-g.example/ledger", size=3)
    Log.objects.create(origin=other.origin, vkey=other.vkey, qpd=3)
    assert post(client, log.body(0)).status_code == 200
    assert post(client, log.body(3)).status_code == 200
    assert post(client, log.body(0)).status_code == 409  # a signed request counts too
    response = post(client, log.body(3))
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    # Another log has its own budget.
    assert post(client, other.body(0)).status_code == 200


def test_requests_the_log_did_not_sign_do_not_spend_its_budget(client):
    log = FakeLog(size=3)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=1)
    impostor = Signer.generate(log.origin)
    for _ in range(3):
        assert post(client, log.body(0, note=log.checkpoint(signer=impostor))).status_code == 403
    assert post(client, log.body(0)).status_code == 200
    assert post(client, log.body(3)).status_code == 429
