"""C2SP tlog-cosignature v1 (Ed25519): the spec's example, our own cosignatures, and
witness quorums in a trust policy."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring import cosignature
from anchoring.checkpoint import Checkpoint, sign_checkpoint
from anchoring.note import InvalidSignatureError, Signer, UnverifiedNoteError, open_note
from anchoring.policy import PolicyError, parse_policy

# The example of c2sp.org/tlog-cosignature: a checkpoint with a cosignature line.
SPEC_COSIGNATURE = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZ"
    "qhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)
SPEC_TIME = 1679315147  # the example's "time" line


def test_the_spec_example_is_key_id_then_timestamp_then_signature():
    raw = base64.b64decode(SPEC_COSIGNATURE)
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == SPEC_TIME


def test_the_signed_message_is_as_the_spec_writes_it():
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosignature.message(body, SPEC_TIME) == (b"cosignature/v1\ntime 1679315147\n" + body)


@pytest.fixture
def cosigned():
    log = Signer.generate("example.com/log")
    note = sign_checkpoint(Checkpoint("example.com/log", 42, b"\x07" * 32), log)
    body = note.split("\n\n")[0] + "\n"
    witnesses = {}
    for name in ("w1.example", "w2.example", "w3.example"):
        key = Ed25519PrivateKey.generate()
        witnesses[name] = (key, cosignature.vkey(name, key.public_key().public_bytes_raw()))
    lines = [
        cosignature.cosign(body, n, witnesses[n][0], 1_767_225_600)
        for n in ("w1.example", "w2.example")
    ]
    return log, note + "".join(lines), witnesses


def test_a_cosignature_verifies_and_its_time_is_read(cosigned):
    log, note, witnesses = cosigned
    verifier = cosignature.parse_witness_key(witnesses["w1.example"][1])
    assert isinstance(verifier, cosignature.CosignatureVerifier)
    opened = open_note(note, [verifier])
    assert [s.name for s in opened.sigs] == ["w1.example"]
    assert verifier.last_timestamp == 1_767_225_600
    # w3 did not cosign: its key verifies nothing in this note.
    with pytest.raises(UnverifiedNoteError):
        open_note(note, [cosignature.parse_witness_key(witnesses["w3.example"][1])])


def test_a_changed_timestamp_or_checkpoint_fails(cosigned):
    log, note, witnesses = cosigned
    verifier = cosignature.parse_witness_key(witnesses["w1.example"][1])
    line = next(line for line in note.splitlines() if line.startswith("— w1.example "))
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 0x01  # the last byte of the timestamp
    forged = note.replace(line, f"— w1.example {base64.b64encode(bytes(raw)).decode()}")
    with pytest.raises(InvalidSignatureError):
        open_note(forged, [verifier])
    with pytest.raises(InvalidSignatureError):
        open_note(note.replace("\n42\n", "\n43\n"), [verifier])


def test_a_witness_key_of_the_wrong_id_is_refused():
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    name, key_id, rest = cosignature.vkey("w.example", key).split("+", 2)
    with pytest.raises(PolicyError, match="line 2"):
        parse_policy(f"log {_vkey()}\nwitness w w.example+00000000+{rest}\n")


def _vkey() -> str:
    from anchoring.note import verifier_key

    return verifier_key(Signer.generate("example.com/log"))


def test_quorums_of_groups_of_witnesses(cosigned):
    log, note, witnesses = cosigned
    from anchoring.note import verifier_key

    lines = [f"log {verifier_key(log)}"]
    lines += [f"witness {n.split('.')[0]} {v}" for n, (_, v) in witnesses.items()]
    text = "\n".join(lines)

    def satisfied(rules: str) -> bool:
        policy = parse_policy(text + "\n" + rules)
        return policy.quorum is None or policy.satisfied(policy.quorum, policy.cosigners(note))

    assert satisfied("group g 2 w1 w2 w3\nquorum g")
    assert not satisfied("group g all w1 w2 w3\nquorum g")
    assert satisfied("group g any w3 w2\nquorum g")
    assert not satisfied("quorum w3")
    assert satisfied("group a any w3\ngroup b 1 a w1\nquorum b")
    with pytest.raises(PolicyError):
        parse_policy(text + "\nquorum nobody")
    with pytest.raises(PolicyError):
        parse_policy(text + "\ngroup g 4 w1 w2 w3")
