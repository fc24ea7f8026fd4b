"""POST /witness/add-checkpoint answers every status of C2SP tlog-witness v1.0.0, and the
state the witness keeps moves only on a 200."""

import logging

import pytest

from anchoring.checkpoint import open_checkpoint
from anchoring.cosignature import parse_witness_key
from anchoring.merkle import EMPTY_ROOT
from anchoring.note import Signer, encode_base64, open_note
from tests.witness.fake_log import FakeLog
from witness import keys
from witness.models import Log

pytestmark = pytest.mark.django_db
URL = "/witness/add-checkpoint"


def post(client, body: bytes):
    return client.post(URL, data=body, content_type="text/plain")


def state(log: FakeLog) -> tuple[int, bytes, bool]:
    row = Log.objects.get(origin=log.origin)
    return row.size, bytes(row.root_hash), row.cosigned_at is not None


def test_a_first_checkpoint_is_cosigned_and_the_cosignature_verifies(client, fake_log):
    response = post(client, fake_log.body(0))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode()
    assert lines.startswith("— ") and lines.endswith("\n") and lines.count("\n") == 1
    # The client's way (tlog-witness): append the lines to the checkpoint, open the note
    # with the witness key it trusts.
    verifier = parse_witness_key(keys.vkey())
    note = open_note(fake_log.checkpoint() + lines, verifier)
    assert [s.name for s in note.sigs] == [keys.identity().name]
    assert verifier.last_timestamp and verifier.last_timestamp > 0
    assert state(fake_log) == (10, fake_log.root(10), True)


def test_a_later_checkpoint_with_its_consistency_proof_is_cosigned(client, fake_log):
    assert post(client, fake_log.body(0)).status_code == 200
    fake_log.grow(7)
    response = post(client, fake_log.body(10))
    assert response.status_code == 200
    assert state(fake_log) == (17, fake_log.root(17), True)
    # Every later size too, from each size cosigned.
    for step in (1, 2, 13, 64):
        old = fake_log.tree.size
        fake_log.grow(step)
        assert post(client, fake_log.body(old)).status_code == 200
    assert state(fake_log)[0] == fake_log.tree.size


def test_the_same_checkpoint_again_is_cosigned_again(client, fake_log):
    assert post(client, fake_log.body(0)).status_code == 200
    assert post(client, fake_log.body(10)).status_code == 200
    assert state(fake_log) == (10, fake_log.root(10), True)


def test_a_checkpoint_of_size_zero_with_the_empty_root_is_cosigned(client, fake_log):
    assert post(client, fake_log.body(0, 0)).status_code == 200
    assert state(fake_log) == (0, EMPTY_ROOT, True)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 0\n",
        b"old 0\nno empty line",
        b"new 0\n\n",
        b"old 01\n\n",
        b"old -1\n\n",
        b"old  0\n\n",
        b"old 0 \n\n",
        b"old 18446744073709551616\n\n",
        b"\xff\xfe\n\n",
    ],
)
def test_a_malformed_head_is_400(client, fake_log, body):
    response = post(client, body + fake_log.checkpoint().encode())
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert state(fake_log) == (0, EMPTY_ROOT, False)


@pytest.mark.parametrize(
    "proof_line",
    ["not base64!", encode_base64(b"\x01" * 31), encode_base64(b"\x01" * 33), "AAAA"],
)
def test_a_proof_line_that_is_not_a_base64_hash_is_400(client, fake_log, proof_line):
    body = f"old 5\n{proof_line}\n\n".encode() + fake_log.checkpoint().encode()
    assert post(client, body).status_code == 400


def test_more_than_63_proof_lines_is_400(client, fake_log):
    body = fake_log.body(5, proof=[b"\x02" * 32] * 64)
    assert post(client, body).status_code == 400


def test_a_body_with_no_checkpoint_or_a_malformed_one_is_400(client, fake_log):
    assert post(client, b"old 0\n\n").status_code == 400
    assert post(client, b"old 0\n\nnot a note\n").status_code == 400
    text = "court-b.example/ledger\nten\nAAAA\n"
    note = f"{text}\n— court-b.example/ledger {encode_base64(b'1234' + b'x' * 64)}\n"
    assert post(client, b"old 0\n\n" + note.encode()).status_code == 400


def test_an_old_size_above_the_checkpoints_is_400(client, fake_log):
    response = post(client, fake_log.body(11, 10, proof=[]))
    assert response.status_code == 400
    assert state(fake_log) == (0, EMPTY_ROOT, False)


def test_an_unknown_origin_is_404(client, fake_log):
    stranger = FakeLog("someone-else.example/log", size=3)
    response = post(client, stranger.body(0))
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_a_log_no_longer_followed_is_404(client, fake_log):
    Log.objects.filter(origin=fake_log.origin).update(active=False)
    assert post(client, fake_log.body(0)).status_code == 404


def test_a_checkpoint_signed_by_another_key_is_403(client, fake_log):
    impostor = Signer.generate(fake_log.origin)  # same name, another key: another key id
    response = post(client, fake_log.body(0, note=fake_log.checkpoint(signer=impostor)))
    assert response.status_code == 403
    assert state(fake_log) == (0, EMPTY_ROOT, False)


def test_an_unsigned_checkpoint_is_403(client, fake_log):
    # A note whose only signature line is by a key nobody knows.
    other = Signer.generate("nobody.example")
    response = post(client, fake_log.body(0, note=fake_log.checkpoint(signer=other)))
    assert response.status_code == 403


def test_a_bad_signature_by_the_logs_own_key_is_403(client, fake_log):
    note = fake_log.checkpoint()
    text, _, sig_line = note.partition("\n\n")
    name, b64 = sig_line.strip()[2:].split(" ")
    raw = bytearray(__import__("base64").b64decode(b64))
    raw[-1] ^= 1
    forged = f"{text}\n\n— {name} {encode_base64(bytes(raw))}\n"
    assert post(client, fake_log.body(0, note=forged)).status_code == 403


def test_other_signatures_are_ignored_and_not_kept(client, fake_log):
    stranger = Signer.generate("witness.elsewhere.example")
    from anchoring.note import parse_note, sign_note

    note = sign_note(parse_note(fake_log.checkpoint()), stranger)
    assert post(client, fake_log.body(0, note=note)).status_code == 200
    stored = Log.objects.get(origin=fake_log.origin).note
    assert "witness.elsewhere.example" not in stored


def test_an_old_size_other_than_the_last_cosigned_is_409_with_that_size(client, fake_log):
    response = post(client, fake_log.body(5))
    assert response.status_code == 409
    assert response["Content-Type"] == "text/x.tlog.size"
    assert response.content == b"0\n"
    assert post(client, fake_log.body(0)).status_code == 200
    fake_log.grow(5)
    response = post(client, fake_log.body(0))
    assert response.status_code == 409
    assert response.content == b"10\n"
    assert response["Content-Type"] == "text/x.tlog.size"
    assert state(fake_log) == (10, fake_log.root(10), True)


def test_a_bad_consistency_proof_is_422_and_changes_nothing(client, fake_log, caplog):
    assert post(client, fake_log.body(0)).status_code == 200
    fake_log.grow(6)
    proof = fake_log.proof(10)
    proof[0] = bytes(32)
    with caplog.at_level(logging.WARNING, logger="witness.service"):
        response = post(client, fake_log.body(10, proof=proof))
    assert response.status_code == 422
    assert state(fake_log) == (10, fake_log.root(10), True)
    assert "possible log misbehaviour" in caplog.text
    assert post(client, fake_log.body(10, proof=[])).status_code == 422


def test_a_proof_from_old_size_zero_must_be_empty_422(client, fake_log):
    response = post(client, fake_log.body(0, proof=[bytes(32)]))
    assert response.status_code == 422
    assert state(fake_log) == (0, EMPTY_ROOT, False)


def test_size_zero_with_a_root_that_is_not_the_empty_trees_is_422(client, fake_log):
    note = fake_log.checkpoint(0, root=b"\x07" * 32)
    response = post(client, fake_log.body(0, 0, note=note))
    assert response.status_code == 422
    assert state(fake_log) == (0, EMPTY_ROOT, False)


def test_a_split_view_is_refused_logged_and_never_cosigned(client, fake_log, caplog):
    assert post(client, fake_log.body(0)).status_code == 200
    before = Log.objects.get(origin=fake_log.origin)
    fork = fake_log.checkpoint(10, root=b"\x09" * 32)  # signed by the real log key
    with caplog.at_level(logging.WARNING, logger="witness.service"):
        response = post(client, fake_log.body(10, note=fork))
        again = post(client, fake_log.body(10, note=fork))
    assert response.status_code == 422 and again.status_code == 422
    after = Log.objects.get(origin=fake_log.origin)
    assert (after.size, bytes(after.root_hash), after.note) == (
        10,
        fake_log.root(10),
        before.note,
    )
    assert "split view" in caplog.text
    assert fake_log.origin in caplog.text
    assert fake_log.root(10).hex() in caplog.text and ("09" * 32) in caplog.text


def test_the_stored_note_holds_the_logs_signature_and_the_cosignature(client, fake_log):
    lines = post(client, fake_log.body(0)).content.decode()
    stored = Log.objects.get(origin=fake_log.origin).note
    assert stored == fake_log.checkpoint() + lines
    open_checkpoint(stored, fake_log.signer.verifier(), fake_log.origin)
    open_checkpoint(stored, keys.identity().verifier(), fake_log.origin)


def test_get_is_405_and_no_csrf_token_is_needed(client, fake_log):
    assert client.get(URL).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post(strict, fake_log.body(0)).status_code == 200


def test_a_body_over_the_limit_is_413_before_it_is_read(client, fake_log, settings):
    settings.WITNESS_MAX_BODY_SIZE = 100
    body = fake_log.body(0)
    assert len(body) > 100
    response = post(client, body)
    assert response.status_code == 413
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert state(fake_log) == (0, EMPTY_ROOT, False)
