"""Tests of anchoring.checkpoint: C2SP tlog-checkpoint and tlog-proof, with real sumdb data."""

import base64
import hashlib

import pytest

from anchoring.checkpoint import (
    MAX_PROOF_HASHES,
    PROOF_HEADER,
    Checkpoint,
    CheckpointError,
    Proof,
    format_proof,
    open_checkpoint,
    parse_checkpoint,
    parse_proof,
    sign_checkpoint,
)
from anchoring.merkle import ProofError
from anchoring.note import (
    InvalidSignatureError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    open_note,
    parse_note,
    parse_verifier_key,
    sign_note,
)

# The Go checksum database key, as in transparency-dev/formats log/note_test.go.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_ORIGIN = "go.sum database tree"

# Copied verbatim from transparency-dev/formats, path log/note_test.go (TestSumDBNoteParsing):
# a real sum.golang.org signed tree head.
SUMDB_CHECKPOINT = """go.sum database tree
6476701
mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=

— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=
"""

# Copied verbatim from transparency-dev/incubator, path
# cmd/tlog-verify/testdata/go.sum-database-tree-43930254.tlog-proof: a real tlog-proof of a
# sum.golang.org record, and (…/go.sum-database-tree-43930254.raw) the record it proves.
SUMDB_PROOF = """c2sp.org/tlog-proof@v1
index 43930254
Q2cuq1e21q4UC1RQ6wtmXmCxk2q3Wqz/yFvD12P2KSM=
VdgHwjNYSv9fZVxvYzn8kySGvrjqeCnzdJqJILieWf4=
ARfBpZjsj3LSP42V4xBVdCKbHVa4WXSbuFAa0rUSCVQ=
0VYgz0Vmgz6jOM8H6edZBWHtO6+R7tPvN4EOwwRRSws=
vq+ifloynXE+ORFC1wymQT0cpNIJA1tqg2mQpA55+kc=
SCRewH6vHE1/Vwkt5yEW8xT7il0WbWltXjFIVqlGtQQ=
p//fIG8jgZie4MMwjHF7quCIJ4hErr7U4at0HV34MZQ=
D3K5YdBlxQcklrgF8vSbDyT05J5/mA9lzuhhp72uSOk=
jeYlYyH9FhYGwu+ZJmfPr8GvSNdgrydwqmJgHsygoR0=
p6RFgfGhu8Uuy0LyyZdI4MrSPOZkMe+ycwWJFfr8zTI=
AMZsxrVKBPSe8nSNVVCTyTxWns0CiNbChG/FoiSJWuM=
e+rtSmK5Pd1K5LgFwj7VSo5XJXOcq7OOcqPVZn1hqeM=
expmv1e6XiGr5NMUjMRkSZijlcBx+fZcpqQmUnawhOY=
+Wuic0YARH84k80/Q+KJIbhRCldxG8npjLFiHMLtEpo=
NOMeJqlyUxFXUKYRI/1YqAF4WJBfXJr8UM/SlWGqxgY=
Lm6+TAlLb2lvUs/3unZ2t6RSmJw8RO+WuEuUbAw3QEc=
Jhh2EDG15gDBoLmLiF88lVTgd+uvx3L0xczb8Y3kSq8=
taenaiKqtYMXS3gDzIF3q8VZzqAXqftHqL9BC39njaw=
kZNKypGwEANnt1+msLINnqrIrwX+0MGZUTTKXTfbloI=
A4NJSymjVJ5dvGPaGC3Gj04x8qVRKYfh0pP24mwd6Yk=
KQq808D9W4NUgr4ip+rF/RCyAUERYKKCwKiiAJfaFOc=
I3EVN3zM2rDjs5Q06Zr5gxhg+ksnX2h77E75uL+h3aI=
7iNSYSDhMeRkeV7r9krKbKelNPiqDCJU1i6xAn/Fbuw=
MYqdo6zSjxaAn+29EEjNRbPYm0myB3bheu+HTZIAbVY=
S7olT9TPLXk+bbawbV3sAzWMmhcpWrtjbw++9ZTiyn8=
xJ20xXM4QItt5vxFOtolZ5l18p7ej1+RimNkgWmoRFM=

go.sum database tree
58253265
lIyLAEe4zJUQAda6pFFg3yPOf7j1SgfMEDrpgoX39JU=

— sum.golang.org Az3grkvBHbFcpEFQ3BhGlktgB7pcswIW+ez91eWY6rNPtWfAey8bJO2rVoG2yO5zXvgiaikWVHqon+e14JhA+WXvpAY=
"""
SUMDB_PROOF_RECORD = (
    b"github.com/transparency-dev/tessera v1.0.0 h1:4OT1V9xJLa5NnYlFWWlCdZkCm18/o12rdd+bCTje7XE=\n"
    b"github.com/transparency-dev/tessera v1.0.0/go.mod h1:TLvfjlkbmsmKVEJUtzO2eb9Q2IBnK3EJ0dI4G0oxEOU=\n"
)

# Copied verbatim from golang/mod, path sumdb/tlog/note_test.go (TestFormatTree/TestParseTree).
GO_TREE = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"

# Copied verbatim from C2SP/C2SP, path tlog-checkpoint.md (no public key is published).
C2SP_CHECKPOINT = """example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
"""

# Copied verbatim from C2SP/C2SP, path tlog-proof.md (its signatures are abbreviated "[...]").
C2SP_PROOF = """c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
— witness2.example TnKKVHLX[...]xwYwrSjgow==
— witness3.example S4X82uH5[...]3oEcROGLFQ==
"""

ROOT = hashlib.sha256(b"root").digest()


def _leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _verify_inclusion(index: int, size: int, leaf: bytes, proof, root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, only to show the parsed proof hashes are the right ones."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


@pytest.fixture(scope="module")
def sumdb():
    return parse_verifier_key(SUMDB_VKEY)


@pytest.fixture(scope="module")
def log_signer() -> Signer:
    return Signer.generate("portal.example/ledger")


# ---------------------------------------------------------------- checkpoint body


def test_go_tree_format_and_parse():
    cp = Checkpoint(SUMDB_ORIGIN, 123456789012, _leaf_hash(b"hello world"))
    assert cp.body() == GO_TREE
    assert parse_checkpoint(GO_TREE) == cp


@pytest.mark.parametrize(
    "text",
    [
        # golang/mod sumdb/tlog/note_test.go badTrees that are bad for any checkpoint
        # ("not-" + origin is only wrong for sumdb; see test_origin_check).
        "go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
        # Go's tlog ignores junk after the tree; C2SP needs the final newline.
        GO_TREE + "JOE",
    ],
)
def test_go_bad_trees(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_go_trailing_lines_are_extensions():
    # golang/mod sumdb/tlog/note_test.go goodTrees: in C2SP terms, extension lines.
    assert parse_checkpoint(GO_TREE + "JOE\n").extensions == ("JOE",)
    assert parse_checkpoint(GO_TREE + "JOE\n" * 1000).extensions == ("JOE",) * 1000


@pytest.mark.parametrize(
    "text",
    [
        # transparency-dev/formats log/checkpoint_test.go, the invalid cases.
        "Head\n9944\n",
        "\n9944\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
        "Log\n123\nYmFuYW5hcw==",
        "Log\nbananas\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
        "Log\n-34\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
        "Log\n3438945738945739845734895735\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n",
        "Log\n123\nThisIsn'tBase64\n",
        # Its "valid" ones have roots that are not 32-byte hashes, and empty trailing
        # lines, which C2SP forbids.
        "Log\n123\nYmFuYW5hcw==\n",
        "Log\n9944\ndGhlIHZpZXcgZnJvbSB0aGUgdHJlZSB0b3BzIGlzIGdyZWF0IQ==\n\n\n\n",
    ],
)
def test_formats_bad_checkpoints(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


H = base64.b64encode(ROOT).decode()
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
BAD_BODIES = {
    "empty": "",
    "no final newline": f"log\n1\n{H}",
    "two lines": "log\n1\n",
    "empty origin": f"\n1\n{H}\n",
    "empty size": f"log\n\n{H}\n",
    "leading zero": f"log\n01\n{H}\n",
    "double zero": f"log\n00\n{H}\n",
    "plus sign": f"log\n+1\n{H}\n",
    "minus": f"log\n-1\n{H}\n",
    "minus zero": f"log\n-0\n{H}\n",
    "space": f"log\n 1\n{H}\n",
    "trailing space": f"log\n1 \n{H}\n",
    "underscore": f"log\n1_000\n{H}\n",
    "hex": f"log\n0x10\n{H}\n",
    "non-ASCII digits": f"log\n\u0661\u0662\n{H}\n",
    "2**64": f"log\n{2**64}\n{H}\n",
    "huge": f"log\n{'9' * 5000}\n{H}\n",
    "31-byte root": f"log\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
    "33-byte root": f"log\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",
    "unpadded root": f"log\n1\n{H.rstrip('=')}\n",
    "url-safe root": "log\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + "\n",
    "non-canonical root": f"log\n1\n{H[:-2]}{B64[B64.index(H[-2]) ^ 1]}=\n",
    "hex root": f"log\n1\n{ROOT.hex()}\n",
    "empty extension": f"log\n1\n{H}\n\next\n",
    "CRLF": f"log\r\n1\r\n{H}\r\n",
    "control in origin": f"l\x01og\n1\n{H}\n",
    "control in extension": f"log\n1\n{H}\ne\tx\n",
}


@pytest.mark.parametrize("text", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_parse_checkpoint_rejects(text):
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_checkpoint_round_trip_with_extensions():
    cp = Checkpoint("portal.example/ledger", 0, ROOT, ("ext one", "ext+two"))
    assert cp.body() == f"portal.example/ledger\n0\n{H}\next one\next+two\n"
    assert parse_checkpoint(cp.body()) == cp
    # Origins are free-form: spaces and pluses are only discouraged by the spec.
    assert parse_checkpoint(f"a b+c\n{2**64 - 1}\n{H}\n").size == 2**64 - 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "a\nb"},
        {"size": -1},
        {"size": 2**64},
        {"size": True},
        {"size": "1"},
        {"root_hash": ROOT[:31]},
        {"root_hash": ROOT.hex()},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        {"extensions": "abc"},
        {"origin": "\ud800"},
    ],
)
def test_checkpoint_constructor_validates(kwargs):
    args = {"origin": "log", "size": 1, "root_hash": ROOT} | kwargs
    with pytest.raises(CheckpointError):
        Checkpoint(**args)


def test_checkpoint_normalises_sequences():
    assert Checkpoint("log", 1, ROOT, ["x"]).extensions == ("x",)  # type: ignore[arg-type]
    assert Checkpoint("log", 1, memoryview(ROOT)).root_hash == ROOT  # type: ignore[arg-type]
    assert Checkpoint("log", 1, bytearray(ROOT)) == Checkpoint("log", 1, ROOT)  # type: ignore[arg-type]


# ---------------------------------------------------------------- signed checkpoints


def test_sumdb_checkpoint(sumdb):
    cp = open_checkpoint(SUMDB_CHECKPOINT, sumdb, origin=SUMDB_ORIGIN)
    assert cp == Checkpoint(
        SUMDB_ORIGIN,
        6476701,
        base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="),
    )
    assert open_checkpoint(SUMDB_CHECKPOINT.encode(), [sumdb]) == cp


def test_sumdb_checkpoint_origin_check(sumdb):
    # transparency-dev/formats log/note_test.go "wrong logID", and golang/mod's "not-" tree.
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(SUMDB_CHECKPOINT, sumdb, origin="Go rocks but I might have the wrong ID")
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(SUMDB_CHECKPOINT, sumdb, origin="not-" + SUMDB_ORIGIN)


def test_sumdb_checkpoint_any_changed_character_fails(sumdb):
    for i, ch in enumerate(SUMDB_CHECKPOINT):
        mutated = SUMDB_CHECKPOINT[:i] + chr(ord(ch) + 1) + SUMDB_CHECKPOINT[i + 1 :]
        with pytest.raises((NoteError, CheckpointError)):
            open_checkpoint(mutated, sumdb, origin=SUMDB_ORIGIN)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(SUMDB_CHECKPOINT.replace("6476701", "6476700"), sumdb)


def test_c2sp_checkpoint_example(sumdb):
    note = parse_note(C2SP_CHECKPOINT)
    cp = parse_checkpoint(note.text)
    assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    # Its signature carries sum.golang.org's key id under another name: an unknown key,
    # which must be ignored (so nothing verifies).
    (sig,) = note.unverified_sigs
    assert sig.key_id == sumdb.key_id and sig.name != sumdb.name
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(C2SP_CHECKPOINT, sumdb)


def test_sign_and_open_round_trip(log_signer):
    cp = Checkpoint(log_signer.name, 42, ROOT)
    note = sign_checkpoint(cp, log_signer)
    assert note.startswith(cp.body() + "\n\u2014 portal.example/ledger ")
    assert open_checkpoint(note, log_signer.verifier(), origin=log_signer.name) == cp
    assert open_checkpoint(note, [log_signer.verifier()]) == cp


def test_sign_checkpoint_key_name_must_be_origin(log_signer):
    cp = Checkpoint("other.example/log", 1, ROOT)
    with pytest.raises(CheckpointError, match="origin"):
        sign_checkpoint(cp, log_signer)
    note = sign_checkpoint(cp, log_signer, allow_name_mismatch=True)
    assert open_checkpoint(note, log_signer.verifier(), origin="other.example/log") == cp


def test_open_checkpoint_ignores_witnesses_and_needs_known_key(log_signer):
    cp = Checkpoint(log_signer.name, 7, ROOT)
    witness = Signer.generate("witness.example")
    # Cosigning an encoded note: parse it first, or its signatures would become text.
    note = sign_note(parse_note(sign_checkpoint(cp, log_signer)), witness)
    note = sign_note(open_note(note, log_signer.verifier()), witness)  # re-signing replaces
    assert note.count("\u2014 ") == 2
    assert open_checkpoint(note, log_signer.verifier()) == cp
    assert open_checkpoint(note, witness.verifier()) == cp
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(note, Signer.generate(log_signer.name).verifier())


def test_open_checkpoint_rejects_tampered_extension(log_signer):
    note = sign_checkpoint(Checkpoint(log_signer.name, 7, ROOT, ("ext",)), log_signer)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(note.replace("ext\n", "exu\n"), log_signer.verifier())


def test_open_checkpoint_rejects_signed_non_checkpoint(log_signer):
    # transparency-dev/formats log/note_test.go "bad body good sigs".
    note = sign_note("if this is a valid checkpoint then I'll eat my hat\n", log_signer)
    with pytest.raises(CheckpointError):
        open_checkpoint(note, log_signer.verifier())


# ---------------------------------------------------------------- tlog-proof


def test_sumdb_proof(sumdb):
    proof = parse_proof(SUMDB_PROOF)
    assert proof.index == 43930254
    assert len(proof.hashes) == 26
    assert proof.extra is None
    cp = open_checkpoint(proof.checkpoint, sumdb, origin=SUMDB_ORIGIN)
    assert cp.size == 58253265
    leaf = _leaf_hash(SUMDB_PROOF_RECORD)
    assert leaf.hex() == "0fa57c511c3b2ffcc0a05ad63172568d265aaf9844e9b636a0978795396f2ab1"
    assert _verify_inclusion(proof.index, cp.size, leaf, proof.hashes, cp.root_hash)
    assert not _verify_inclusion(proof.index + 1, cp.size, leaf, proof.hashes, cp.root_hash)
    # Byte-for-byte re-encoding.
    assert format_proof(proof.index, proof.hashes, proof.checkpoint) == SUMDB_PROOF
    assert proof.format() == SUMDB_PROOF
    assert parse_proof(SUMDB_PROOF.encode()) == proof


def test_sumdb_proof_tampering_is_detected(sumdb):
    proof = parse_proof(SUMDB_PROOF)
    cp = open_checkpoint(proof.checkpoint, sumdb)
    leaf = _leaf_hash(SUMDB_PROOF_RECORD)
    for i in range(len(proof.hashes)):
        hashes = list(proof.hashes)
        hashes[i] = bytes([hashes[i][0] ^ 1]) + hashes[i][1:]
        assert not _verify_inclusion(proof.index, cp.size, leaf, hashes, cp.root_hash)
    with pytest.raises(InvalidSignatureError):
        open_checkpoint(proof.checkpoint.replace("58253265", "58253266"), sumdb)


def test_c2sp_proof_example():
    # The spec's example abbreviates its signatures, so its checkpoint is not a valid note.
    with pytest.raises(ProofError, match="embedded checkpoint.*base64"):
        parse_proof(C2SP_PROOF)
    # With a real signature in place of the abbreviated ones it parses.
    head, _, checkpoint = C2SP_PROOF.partition("\n\n")
    signer = Signer.generate("example.com/fancylog")
    text = checkpoint.split("\n\n")[0] + "\n"
    proof = parse_proof(head + "\n\n" + sign_note(text, signer))
    assert proof.index == 73894
    assert len(proof.hashes) == 5
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert open_checkpoint(proof.checkpoint, signer.verifier(), "example.com/fancylog").size == (
        109482
    )
    assert proof.format() == head + "\n\n" + proof.checkpoint


@pytest.fixture(scope="module")
def signed(log_signer) -> str:
    return sign_checkpoint(Checkpoint(log_signer.name, 10, ROOT), log_signer)


def test_proof_round_trips(signed):
    # Shapes of transparency-dev/formats proof/tlog_proof_test.go TestMarshal, with a real
    # checkpoint in place of its placeholder text.
    h1, h2 = hashlib.sha256(b"hash1").digest(), hashlib.sha256(b"hash2").digest()
    b1, b2 = base64.b64encode(h1).decode(), base64.b64encode(h2).decode()
    extra = b"extra information"
    cases = [
        (5, [h1, h2], None, f"c2sp.org/tlog-proof@v1\nindex 5\n{b1}\n{b2}\n\n{signed}"),
        (
            9,
            [h1],
            extra,
            (
                f"c2sp.org/tlog-proof@v1\nextra {base64.b64encode(extra).decode()}\nindex 9\n"
                f"{b1}\n\n{signed}"
            ),
        ),
        (0, [], None, f"c2sp.org/tlog-proof@v1\nindex 0\n\n{signed}"),
        (0, [], b"", f"c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n{signed}"),
    ]
    for index, hashes, ext, want in cases:
        text = format_proof(index, hashes, signed, extra=ext)
        assert text == want
        assert parse_proof(text) == Proof(index, tuple(hashes), signed, ext)


BAD_PROOF_HEADS = {
    # transparency-dev/formats proof/tlog_proof_test.go TestUnmarshalErrors (heads only).
    "missing header": "wrong-header\nindex 0",
    "invalid extra data encoding": "c2sp.org/tlog-proof@v1\nextra !!notbase64!!\nindex 0",
    "missing index": "c2sp.org/tlog-proof@v1\n",
    "index not a number": "c2sp.org/tlog-proof@v1\nindex notanumber",
    "negative index": "c2sp.org/tlog-proof@v1\nindex -5",
    "invalid hash base64": "c2sp.org/tlog-proof@v1\nindex 0\n!!notbase64!!",
    "64-byte hash": "c2sp.org/tlog-proof@v1\nindex 0\n" + base64.b64encode(bytes(64)).decode(),
    # our own
    "header with version 2": "c2sp.org/tlog-proof@v2\nindex 0",
    "header with trailing space": "c2sp.org/tlog-proof@v1 \nindex 0",
    "index leading zero": "c2sp.org/tlog-proof@v1\nindex 01",
    "index plus": "c2sp.org/tlog-proof@v1\nindex +1",
    "index two spaces": "c2sp.org/tlog-proof@v1\nindex  1",
    "index trailing space": "c2sp.org/tlog-proof@v1\nindex 1 ",
    "index too large": f"c2sp.org/tlog-proof@v1\nindex {2**64}",
    "index at tree size": "c2sp.org/tlog-proof@v1\nindex 10",
    "no index word": "c2sp.org/tlog-proof@v1\n1",
    "extra without space": "c2sp.org/tlog-proof@v1\nextraAAAA\nindex 0",
    "extra after index": "c2sp.org/tlog-proof@v1\nindex 0\nextra AAAA",
    "two extra lines": "c2sp.org/tlog-proof@v1\nextra AAAA\nextra AAAA\nindex 0",
    "non-canonical extra": "c2sp.org/tlog-proof@v1\nextra AB==\nindex 0",
    "31-byte hash": "c2sp.org/tlog-proof@v1\nindex 0\n" + base64.b64encode(bytes(31)).decode(),
    "unpadded hash": "c2sp.org/tlog-proof@v1\nindex 0\n" + H.rstrip("="),
    "CRLF": "c2sp.org/tlog-proof@v1\r\nindex 0",
    "too many hashes": "c2sp.org/tlog-proof@v1\nindex 0" + f"\n{H}" * (MAX_PROOF_HASHES + 1),
}


@pytest.mark.parametrize("head", BAD_PROOF_HEADS.values(), ids=BAD_PROOF_HEADS.keys())
def test_parse_proof_rejects_bad_heads(signed, head):
    with pytest.raises(ProofError):
        parse_proof(head + "\n\n" + signed)


def test_parse_proof_rejects_bad_checkpoints(signed):
    good_head = "c2sp.org/tlog-proof@v1\nindex 0\n"
    for text in [
        good_head,  # no blank line, no checkpoint
        good_head + "\n",  # empty checkpoint
        good_head + "\n" + signed.rstrip("\n"),  # checkpoint without final newline
        good_head + "\n" + signed + "trailing junk\n",
        good_head + "\n" + sign_note("not a checkpoint\n", Signer.generate("x")),
        good_head + "\n" + sign_note(f"log\n0\n{H}\n", Signer.generate("log")),  # index 0 >= 0
        good_head + "\n\n" + signed,  # two blank lines
        "\n" + good_head + "\n" + signed,
        PROOF_HEADER,
        "",
    ]:
        with pytest.raises(ProofError):
            parse_proof(text)
    with pytest.raises(ProofError, match="UTF-8"):
        parse_proof(b"\xff" + (good_head + "\n" + signed).encode())


def test_format_proof_rejects_bad_input(signed):
    with pytest.raises(ProofError):
        format_proof(-1, [], signed)
    with pytest.raises(ProofError):
        format_proof(10, [], signed)  # not below the tree size
    with pytest.raises(ProofError):
        format_proof(True, [], signed)
    with pytest.raises(ProofError):
        format_proof(0, [ROOT[:31]], signed)
    with pytest.raises(ProofError):
        format_proof(0, [ROOT] * (MAX_PROOF_HASHES + 1), signed)
    with pytest.raises(ProofError):
        format_proof(0, [ROOT.hex()], signed)  # type: ignore[list-item]
    with pytest.raises(ProofError):
        format_proof(0, [], signed, extra="text")  # type: ignore[arg-type]
    with pytest.raises(ProofError):
        format_proof(0, [], "log\n1\n" + H + "\n")  # an unsigned body is not a checkpoint note
