"""What a witness shows: its page (Chinese, then English), /witness/logs (JSON) and the
checkpoint it last cosigned for each log (C2SP tlog-witness's monitoring interface)."""

import hashlib

import pytest

from anchoring.checkpoint import open_checkpoint
from anchoring.cosignature import parse_witness_key
from anchoring.note import encode_base64, open_note
from tests.witness.conftest import WITNESS_NAME
from witness import keys

pytestmark = pytest.mark.django_db


def cosign(client, fake_log) -> str:
    response = client.post(
        "/witness/add-checkpoint", data=fake_log.body(0), content_type="text/plain"
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_checkpoint_is_404_until_cosigned_then_carries_both_signatures(client, fake_log):
    url = f"/witness/{hashlib.sha256(fake_log.origin.encode()).hexdigest()}/checkpoint"
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = cosign(client, fake_log)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    note = response.content.decode()
    assert note == fake_log.checkpoint() + lines
    cp = open_checkpoint(note, fake_log.signer.verifier(), fake_log.origin)
    assert cp.size == 10
    assert open_note(note, parse_witness_key(keys.vkey())).sigs[0].name == WITNESS_NAME


def test_an_unknown_or_uppercase_hash_is_404(client, fake_log):
    cosign(client, fake_log)
    digest = hashlib.sha256(fake_log.origin.encode()).hexdigest()
    assert client.get(f"/witness/{'0' * 64}/checkpoint").status_code == 404
    assert client.get(f"/witness/{digest.upper()}/checkpoint").status_code == 404


def test_logs_lists_the_witness_and_each_log_with_its_state(client, fake_log):
    body = client.get("/witness/logs").json()
    assert body["witness"] == {"name": WITNESS_NAME, "vkey": keys.vkey()}
    (log,) = body["logs"]
    assert (log["origin"], log["size"], log["cosigned_at"], log["checkpoint"]) == (
        fake_log.origin,
        0,
        None,
        None,
    )
    cosign(client, fake_log)
    (log,) = client.get("/witness/logs").json()["logs"]
    digest = hashlib.sha256(fake_log.origin.encode()).hexdigest()
    assert log == {
        "origin": fake_log.origin,
        "origin_hash": digest,
        "vkey": fake_log.vkey,
        "qpd": 86400,
        "contact": "",
        "from_list": False,
        "size": 10,
        "root_hash": encode_base64(fake_log.root(10)),
        "cosigned_at": log["cosigned_at"],
        "checkpoint": f"/witness/{digest}/checkpoint",
    }
    assert log["cosigned_at"].endswith("+00:00")


def test_the_page_shows_name_key_and_logs_in_the_readers_language(client, fake_log):
    cosign(client, fake_log)
    response = client.get("/witness/")
    assert response.status_code == 200
    page = response.content.decode()
    assert WITNESS_NAME in page and keys.vkey() in page and fake_log.origin in page
    assert encode_base64(fake_log.root(10)) in page
    assert "<h1>见证者</h1>" in page and "跟随的日志" in page and "Logs followed" not in page
    english = client.get("/witness/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Witness</h1>" in english and "Logs followed" in english
    assert "跟随的日志" not in english and keys.vkey() in english
