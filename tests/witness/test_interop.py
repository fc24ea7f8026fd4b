"""The witness's cosignatures are C2SP tlog-cosignature v1 as other implementations read
them: the key id computed independently, the spec's example parsed, the vkey round trip."""

import base64
import hashlib

from anchoring.cosignature import CosignatureVerifier, parse_witness_key
from anchoring.note import Signer, open_note, parse_note
from tests.witness.fake_log import FakeLog
from witness.identity import Identity

SPEC_EXAMPLE = """example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==
"""


def test_the_key_id_is_sha256_of_name_newline_0x04_key():
    identity = Identity("witness.court-a.example/w1", Signer.generate("witness.court-a.example/w1"))
    expected = hashlib.sha256(
        b"witness.court-a.example/w1" + b"\n" + b"\x04" + identity.signer.public_key
    ).digest()[:4]
    assert identity.key_id.to_bytes(4, "big") == expected
    name, key_id, key = identity.vkey().split("+", 2)
    assert (name, key_id) == ("witness.court-a.example/w1", expected.hex())
    assert base64.b64decode(key) == b"\x04" + identity.signer.public_key
    # The signature line starts with that key id, then the 8-byte timestamp.
    line = identity.cosign("o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", 1_700_000_000)
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == expected
    assert int.from_bytes(raw[4:12], "big") == 1_700_000_000
    assert len(raw) == 4 + 8 + 64


def test_a_cosignature_verifies_with_the_vkey_the_witness_prints():
    identity = Identity("w.example/witness", Signer.generate("w.example/witness"))
    log = FakeLog(size=5)
    note = log.checkpoint()
    line = identity.cosign(parse_note(note).text, 1_767_225_600)
    verifier = parse_witness_key(identity.vkey())
    assert isinstance(verifier, CosignatureVerifier)
    assert open_note(note + line, verifier).sigs[0].name == "w.example/witness"
    assert verifier.last_timestamp == 1_767_225_600
    # The signed message, rebuilt by hand, is what the signature covers.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = base64.b64decode(line.split(" ")[2])
    message = b"cosignature/v1\ntime 1767225600\n" + parse_note(note).text.encode()
    Ed25519PublicKey.from_public_bytes(identity.signer.public_key).verify(raw[12:], message)


def test_the_specs_example_parses_and_its_cosignature_line_has_the_v1_shape():
    note = parse_note(SPEC_EXAMPLE)
    assert note.text.startswith("example.com/behind-the-sofa\n20852163\n")
    names = [s.name for s in note.unverified_sigs]
    assert names == ["example.com/behind-the-sofa", "witness.example.com/w1"]
    raw = base64.b64decode(note.unverified_sigs[1].b64)
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147  # the spec's `time` line
