"""RFC 3161 timestamps of checkpoints against real TSAs: `openssl ts -reply` processes, one
RSA and one EC, behind a small HTTP server (tests/tsa.py)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import timedelta

import pytest
from asn1crypto import tsp
from django.utils import timezone

from anchoring import store, timestamps
from anchoring import timestamp_token as tokens
from anchoring.models import CheckpointTimestamp, TimestampAuthority
from tests import tsa
from tests.anchoring.ledger import grow_ledger

pytestmark = pytest.mark.django_db


def test_both_tsas_timestamp_the_newest_checkpoint_and_each_token_verifies(configured):
    grow_ledger(5)
    newest = store.latest_checkpoint()
    assert timestamps.timestamp_newest() == 2
    rows = timestamps.for_size(newest.tree_size)
    assert {r.url for r in rows} == set(timestamps.settings.LEDGER_TSA_URLS)
    body = timestamps.body(newest.note)
    assert body == newest.note.split("\n\n")[0].encode() + b"\n"  # origin, size, root lines
    for row, server in zip(
        sorted(rows, key=lambda r: r.url), sorted(configured, key=lambda s: s.url), strict=True
    ):
        pinned = {server.authority.ca_fingerprint}
        stamp = tokens.check(bytes(row.token), body, pinned, [bytes(row.ca)])
        assert stamp.tsa == server.authority.name == row.tsa
        assert abs(stamp.gen_time - timezone.now()) < timedelta(minutes=1)
        assert bytes(row.ca) == server.authority.ca_der
    state = TimestampAuthority.objects.get(url=configured[1].url)
    assert (state.ok, state.timestamped_size, state.failures) == (True, newest.tree_size, 0)
    assert timestamps.timestamp_newest() == 0  # nothing new


def test_at_most_one_timestamp_per_period_always_the_newest(configured, settings):
    settings.LEDGER_TIMESTAMP_PERIOD = 3600.0
    grow_ledger(2)
    assert timestamps.timestamp_newest() == 2
    grow_ledger(2, start=2)
    assert timestamps.timestamp_newest() == 0  # within the period: not asked
    settings.LEDGER_TIMESTAMP_PERIOD = 0.0
    grow_ledger(2, start=4)
    assert timestamps.timestamp_newest() == 2
    sizes = set(CheckpointTimestamp.objects.values_list("checkpoint_id", flat=True))
    assert sizes == {2, 6}  # 4 was skipped, the newest taken


def test_timestamp_rows_are_append_only(configured):
    from django.db import DatabaseError, transaction

    grow_ledger(1)
    timestamps.timestamp_newest()
    with pytest.raises(DatabaseError), transaction.atomic():
        CheckpointTimestamp.objects.update(gen_time=timezone.now())


def test_a_tsa_down_is_retried_with_backoff_and_stamps_once_back(configured, settings):
    from portal import health

    rsa_server, _ = configured
    settings.LEDGER_TSA_URLS = [rsa_server.url]
    settings.LEDGER_TSA_RETRY = 30.0
    grow_ledger(3)
    rsa_server.stop()
    try:
        assert timestamps.timestamp_newest() == 0
        state = TimestampAuthority.objects.get(url=rsa_server.url)
        assert not state.ok and state.failures == 1 and "unreachable" in state.last_error
        assert state.retry_at - state.checked_at == timedelta(seconds=30)
        part = health.timestamps()
        assert part["ok"] and part["degraded"] and part["authorities"][0]["error"]
        _, report = health.report()
        assert report["status"] in ("degraded", "unhealthy")
        assert timestamps.timestamp_newest() == 0  # backing off: not even asked
        TimestampAuthority.objects.filter(pk=state.pk).update(retry_at=timezone.now())
        assert timestamps.timestamp_newest() == 0
        state.refresh_from_db()
        assert state.failures == 2
        assert state.retry_at - state.checked_at == timedelta(seconds=60)  # doubled
    finally:
        rsa_server.start()
    TimestampAuthority.objects.filter(url=rsa_server.url).update(retry_at=timezone.now())
    assert timestamps.timestamp_newest() == 1
    state = TimestampAuthority.objects.get(url=rsa_server.url)
    assert state.ok and state.failures == 0 and state.failing_since is None
    assert not health.timestamps()["degraded"]


def test_a_tsa_whose_ca_is_not_pinned_is_refused_on_receipt(configured, settings):
    rsa_server, ec_server = configured
    settings.LEDGER_TSA_CA_FILES = [str(ec_server.authority.ca_pem)]
    grow_ledger(1)
    assert timestamps.timestamp_newest() == 1
    assert [r.url for r in CheckpointTimestamp.objects.all()] == [ec_server.url]
    state = TimestampAuthority.objects.get(url=rsa_server.url)
    # Its token is checked against the pinned CAs only, and chains to none of them.
    assert not state.ok and "refused its token" in state.last_error


# --- Every token is verified: what is refused -------------------------------------------

MESSAGE = b"example.org/ledger\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"


def _token(server, message=MESSAGE):
    query = tokens.request(message)
    return tokens.token_of(tsa.ask(server.url, query.der)), query.nonce


@pytest.mark.parametrize("kind", [0, 1], ids=["rsa", "ec"])
def test_a_token_verifies_only_for_its_digest_its_pinned_ca_and_its_nonce(authorities, kind):
    server = authorities[kind]
    ca = server.authority
    token, nonce = _token(server)
    assert tokens.check(token, MESSAGE, {ca.ca_fingerprint}, [ca.ca_der], nonce).tsa == ca.name
    with pytest.raises(tokens.TokenError, match="another digest"):
        tokens.check(token, MESSAGE + b"x", {ca.ca_fingerprint}, [ca.ca_der], nonce)
    with pytest.raises(tokens.UnpinnedError):
        tokens.check(token, MESSAGE, {"ab" * 32}, [ca.ca_der], nonce)
    with pytest.raises(tokens.TokenError, match="[Nn]once"):
        tokens.check(token, MESSAGE, {ca.ca_fingerprint}, [ca.ca_der], nonce + 1)
    altered = bytearray(token)
    altered[-8] ^= 1
    with pytest.raises(tokens.TokenError):
        tokens.check(bytes(altered), MESSAGE, {ca.ca_fingerprint}, [ca.ca_der])


def test_a_token_from_another_ca_with_the_same_names_is_refused(authorities, tmp_path):
    server = authorities[0]
    impostor = tsa.make_authority(tmp_path / server.authority.folder.name, "rsa")
    token, _ = _token(server)
    # The impostor CA is pinned and offered; the token's signer does not chain to it.
    with pytest.raises(tokens.TokenError, match="does not verify"):
        tokens.check(token, MESSAGE, {impostor.ca_fingerprint}, [impostor.ca_der])


def test_a_token_whose_signer_lacks_the_timestamping_eku_is_refused(tmp_path):
    # OpenSSL's TSA refuses to sign without the EKU, so pyHanko's responder makes the token.
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    ca = tsa.make_authority(tmp_path / "no-eku", "rsa", eku=False)
    stamper = DummyTimeStamper(
        tsa_cert=load_cert_from_pemder(str(ca.folder / "tsa.pem")),
        tsa_key=load_private_key_from_pemder(str(ca.folder / "tsa.key"), passphrase=None),
        certs_to_embed=[load_cert_from_pemder(str(ca.ca_pem))],
    )
    query = tokens.request(MESSAGE)
    reply = asyncio.run(stamper.async_request_tsa_response(tsp.TimeStampReq.load(query.der)))
    token = tokens.token_of(reply.dump())
    with pytest.raises(tokens.TokenError, match="EKU|purpose"):
        tokens.check(token, MESSAGE, {ca.ca_fingerprint}, [ca.ca_der], query.nonce)


def test_a_refusal_or_garbage_from_a_tsa_is_no_token():
    from asn1crypto import core

    class Refusal(core.SequenceOf):  # a TimeStampResp of a status and no token
        _child_spec = tsp.PKIStatusInfo

    refused = Refusal([{"status": "rejection", "status_string": ["busy"]}]).dump()
    with pytest.raises(tokens.TokenError, match="refused"):
        tokens.token_of(refused)
    with pytest.raises(tokens.TokenError):
        tokens.token_of(b"<html>busy</html>")
    with pytest.raises(tokens.TokenError):
        tokens.check(b"\x30\x03\x02\x01\x00", MESSAGE, {"ab" * 32})


# --- The API -----------------------------------------------------------------------------


def test_the_api_serves_the_tokens_of_a_size_and_of_the_first_covering_checkpoint(
    configured, client
):
    grow_ledger(3)
    timestamps.timestamp_newest()
    size = store.latest_checkpoint().tree_size
    answer = client.get(f"/api/v1/ledger/timestamps?size={size}").json()
    assert answer["size"] == size and len(answer["timestamps"]) == 2
    body = timestamps.body(store.latest_checkpoint().note)
    for item in answer["timestamps"]:
        token, ca = base64.b64decode(item["token"]), base64.b64decode(item["ca"])
        stamp = tokens.check(token, body, {hashlib.sha256(ca).hexdigest()}, [ca])
        assert item["tsa"] == stamp.tsa and item["gen_time"].endswith("Z")
    assert client.get("/api/v1/ledger/timestamps?covering=0").json()["size"] == size
    assert client.get(f"/api/v1/ledger/timestamps?covering={size}").json() == {
        "size": None,
        "timestamps": [],
    }
    missing = client.get("/api/v1/ledger/timestamps?size=2")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_such_checkpoint"
    assert client.get("/api/v1/ledger/timestamps").status_code == 400


def test_the_alliance_page_lists_the_tsas_with_their_last_size_and_state(configured, client):
    rsa_server, ec_server = configured
    grow_ledger(2)
    ec_server_url = ec_server.url
    timestamps.timestamp_newest()
    TimestampAuthority.objects.filter(url=ec_server_url).update(
        ok=False, last_error="unreachable: refused", failing_since=timezone.now()
    )
    page = client.get("/alliance").content.decode()
    assert "可信时间" in page and rsa_server.authority.name in page
    assert "无法签发" in page and "unreachable: refused" in page and "开发用" not in page


def test_the_development_tsa_is_labelled_and_its_tokens_verify(settings, tmp_path):
    from demo import dev_tsa

    settings.DEMO_TSA, settings.DEMO_TSA_CA_FILE = True, tmp_path / "dev-tsa-ca.pem"
    dev_tsa._stamper.cache_clear()
    query = tokens.request(MESSAGE)
    token = tokens.token_of(dev_tsa.answer(query.der))
    ca = settings.DEMO_TSA_CA_FILE.read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(ca).public_bytes(Encoding.DER)
    stamp = tokens.check(token, MESSAGE, {tokens.fingerprint(der)}, [der], query.nonce)
    assert "DEVELOPMENT" in stamp.tsa
    dev_tsa._stamper.cache_clear()
