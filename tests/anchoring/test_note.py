"""Tests of anchoring.note against the published signed-note vectors and its own rules."""

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    AmbiguousVerifierError,
    InvalidKeyError,
    InvalidSignatureError,
    MalformedNoteError,
    Note,
    NoteError,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    compute_key_id,
    is_valid_key_name,
    new_signer_key,
    open_note,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signer_key,
    verifier_key,
)

# --- Vectors copied verbatim from golang/mod, path sumdb/note/note_test.go
# (golang.org/x/mod/sumdb/note); the same keys and note appear in sumdb/note/note.go's doc.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
PETER = Signature(
    "PeterNeumann",
    0xC74F20A3,
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
)
ENOCH = Signature(
    "EnochRoot",
    0xAF0CFE78,
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
)

# --- Vectors copied verbatim from transparency-dev/formats, path log/note_test.go.
FORMATS_KEY_PAIRS = [
    (
        "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs",
        "PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ",
    ),
    (
        "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH",
        "PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci",
    ),
    (
        "KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj",
        "PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+",
    ),
    (
        "Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots",
        "PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU",
    ),
]
# The Go checksum database key as published (also in golang/go cmd/go knownGOSUMDB).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = """go.sum database tree
6476701
mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=

— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=
"""
# Extra cosigner keys and their signatures over SUMDB_NOTE's text (BenchmarkParse there).
WITNESS_VKEYS = [
    "monkeys+db4d9f7e+AULaJMvTtDLHPUcUrjdDad9vDlh/PTfC2VV60JUtCfWT",
    "bananas+cf639f13+AaPjhFnPCQnid/Ql32KWhmh+uk72FVRfK+2DLmO3BI3M",
    "witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN",
]
WITNESS_SIGS = [
    "— monkeys 202ffh9ve46Mqbhuyb4wnC2Pwdan5EsXQym/tF1ggXJqhjGosU4T5intH4iKMRgDLxrnXuIjRaU2NbvAnaepM6Y+8ww=",
    "— bananas z2OfE+2bbsBZ7NLgfuslc0v7NFW2QyexJ7fhePpoL2N/P7N/COd5S+JNHbQEAlYzz2C5sg0E+x/MggS1mDR6t3/9rQw=",
    "— witness 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=",
    "— random1 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=",
    "— random2 8TqG25yWGFLdT7WPf/WoyeG3LwqtkXP+8S3yykOVm6EMh4hPgCke6eSVPU4BdtXNMPJBXKF+UpDbGgCdcpR8SVSoqAU=",
]

# --- Example copied verbatim from C2SP/C2SP, path signed-note.md (no public key is given).
C2SP_EXAMPLE = """Ognuno sta solo sul cuor della terra
trafitto da un raggio di sole:

ed è subito sera.

— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=
"""


@pytest.fixture(scope="module")
def peter() -> Verifier:
    return parse_verifier_key(PETER_VKEY)


@pytest.fixture(scope="module")
def enoch() -> Verifier:
    return parse_verifier_key(ENOCH_VKEY)


@pytest.fixture(scope="module")
def peter_signer() -> Signer:
    return parse_signer_key(PETER_SKEY)


def _reject_all_manglings(key: str, parse) -> None:
    """Go's TestNewVerifier/TestNewSigner: every proper substring and every +1 byte fails."""
    accepted = []
    for i in range(len(key) + 1):
        for j in range(i + 1, len(key) + 1):
            if (i, j) != (0, len(key)):
                try:
                    parse(key[i:j])
                except InvalidKeyError:
                    continue
                accepted.append(key[i:j])
    for i in range(len(key)):
        mangled = key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :]
        try:
            parse(mangled)
        except InvalidKeyError:
            continue
        accepted.append(mangled)
    assert accepted == []


# ---------------------------------------------------------------- keys


def test_go_verifier_key(peter):
    assert peter.name == "PeterNeumann"
    assert peter.key_id == 0xC74F20A3
    assert verifier_key(peter) == PETER_VKEY


def test_go_verifier_key_manglings_rejected():
    _reject_all_manglings(PETER_VKEY, parse_verifier_key)


@pytest.mark.parametrize(
    "vkey, reason",
    [
        # golang/mod sumdb/note/note_test.go, TestNewVerifier
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "",  # also not canonical base64 ("Y=" has trailing bits), which we check first
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm"),
        # our own
        ("", "name+keyid+key"),
        ("PeterNeumann", "name+keyid+key"),
        ("PeterNeumann+c74f20a3", "name+keyid+key"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "invalid key name"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("Peter\u3000Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
        ("PeterNeumann+c74f20a30+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
        ("PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
        ("PeterNeumann+c74f_0a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
        ("PeterNeumann+ c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hexadecimal"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW", "base64"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX", "does not match"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3+", "base64"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x01" + bytes(31)).decode(), "32 bytes"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x01" + bytes(33)).decode(), "32 bytes"),
        ("PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + bytes(32)).decode(), "algorithm"),
        (PETER_SKEY, "private signer key"),
    ],
)
def test_bad_verifier_keys(vkey, reason):
    with pytest.raises(InvalidKeyError, match=re.escape(reason) if reason else None):
        parse_verifier_key(vkey)


def test_verifier_key_hex_case_follows_go():
    # Go parses the key id with strconv.ParseUint(hash16, 16, 32), which takes A-F too.
    verifier = parse_verifier_key(PETER_VKEY.replace("c74f20a3", "C74F20A3"))
    assert verifier_key(verifier) == PETER_VKEY


def test_go_signer_key(peter_signer, peter):
    assert peter_signer.name == "PeterNeumann"
    assert peter_signer.key_id == 0xC74F20A3
    assert peter_signer.verifier() == peter
    assert signer_key(peter_signer) == PETER_SKEY
    assert verifier_key(peter_signer) == PETER_VKEY


def test_go_signer_key_manglings_rejected():
    _reject_all_manglings(PETER_SKEY, parse_signer_key)


@pytest.mark.parametrize("vkey, skey", FORMATS_KEY_PAIRS)
def test_formats_key_pairs(vkey, skey):
    signer = parse_signer_key(skey)
    verifier = parse_verifier_key(vkey)
    assert signer.verifier() == verifier
    assert (signer_key(signer), verifier_key(verifier)) == (skey, vkey)


def test_sumdb_public_key():
    verifier = parse_verifier_key(SUMDB_VKEY)
    assert (verifier.name, verifier.key_id) == ("sum.golang.org", 0x033DE0AE)


def test_misquoted_sumdb_key_is_rejected():
    # A variant of the sum.golang.org key with a different tail: its key id cannot match.
    with pytest.raises(InvalidKeyError, match="does not match"):
        parse_verifier_key("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ukbiy6Gv3XFJ1ciq")


def test_key_id_computation(peter):
    expected = hashlib.sha256(b"PeterNeumann\n\x01" + peter.public_key).digest()[:4]
    assert compute_key_id("PeterNeumann", peter.public_key) == int.from_bytes(expected, "big")
    assert compute_key_id("PeterNeumann", peter.public_key) == 0xC74F20A3
    # The type byte is part of the hash, so another algorithm gets another id.
    assert compute_key_id("PeterNeumann", peter.public_key, 0x04) != 0xC74F20A3
    # And so is the name.
    assert compute_key_id("PeterNeumann2", peter.public_key) != 0xC74F20A3


def test_new_signer_key_round_trip():
    # golang/mod sumdb/note/note_test.go TestGenerateKey, with our names.
    skey, vkey = new_signer_key("EnochRoot")
    signer, verifier = parse_signer_key(skey), parse_verifier_key(vkey)
    assert signer.name == verifier.name == "EnochRoot"
    assert signer.key_id == verifier.key_id
    assert skey.startswith("PRIVATE+KEY+EnochRoot+")
    msg = bytearray(b"hi")
    sig = bytearray(signer.sign(bytes(msg)))
    assert verifier.verify(bytes(msg), bytes(sig))
    sig[0] ^= 1
    assert not verifier.verify(bytes(msg), bytes(sig))
    sig[0] ^= 1
    msg[0] ^= 1
    assert not verifier.verify(bytes(msg), bytes(sig))
    assert not verifier.verify(b"hi", b"short")


def test_verifier_key_from_public_key():
    # golang/mod sumdb/note/note_test.go TestFromEd25519.
    private = Ed25519PrivateKey.generate()
    pub = private.public_key().public_bytes_raw()
    vkey = verifier_key(pub, "EnochRoot")
    assert parse_verifier_key(vkey) == Verifier("EnochRoot", private.public_key())
    assert verifier_key(private.public_key(), "EnochRoot") == vkey
    assert verifier_key(Signer("EnochRoot", private)) == vkey
    with pytest.raises(InvalidKeyError):
        verifier_key(pub[:-1], "EnochRoot")
    with pytest.raises(InvalidKeyError):
        verifier_key(pub)  # a bare key needs a name
    with pytest.raises(InvalidKeyError):
        verifier_key(Signer("EnochRoot", private), "Other")
    with pytest.raises(InvalidKeyError):
        verifier_key(pub, "bad name")


def test_signer_repr_hides_secret(peter_signer):
    seed_b64 = PETER_SKEY.rsplit("+", 1)[1]
    assert seed_b64 not in repr(peter_signer)
    assert "c74f20a3" in repr(peter_signer)


@pytest.mark.parametrize(
    "name, ok",
    [
        ("sum.golang.org", True),
        ("example.com/log42", True),
        ("Señor-1", True),
        ("名前", True),
        ("", False),
        ("a+b", False),
        ("a b", False),
        ("a\tb", False),
        ("a\nb", False),
        ("a\u00a0b", False),
        ("a\u2003b", False),
        ("a\u3000b", False),
        ("a\u2028b", False),
        ("a\x01b", False),
        ("a\ud800b", False),  # lone surrogate: not valid UTF-8
    ],
)
def test_key_names(name, ok):
    assert is_valid_key_name(name) is ok
    if not ok:
        with pytest.raises(InvalidKeyError):
            Signer.generate(name)


# ---------------------------------------------------------------- signing


def test_go_sign_vector(peter_signer):
    # golang/mod sumdb/note/note_test.go TestSign: Ed25519 is deterministic.
    assert sign_note(TEXT, peter_signer) == TEXT + "\n" + PETER_SIG


def test_sign_replaces_existing_signature(peter_signer):
    old = Note(TEXT, (Signature("PeterNeumann", 0xC74F20A3, "BADSIGN="),))
    assert sign_note(old, peter_signer) == TEXT + "\n" + PETER_SIG


def test_sign_bad_inputs(peter_signer):
    # golang/mod sumdb/note/note_test.go TestSign "bad inputs".
    with pytest.raises(MalformedNoteError):
        sign_note("abc", peter_signer)
    with pytest.raises(MalformedNoteError):
        sign_note(Note(TEXT, (Signature("a+b", 0, "ABCD"),)))
    with pytest.raises(MalformedNoteError):
        sign_note(Note(TEXT, (Signature("PeterNeumann", 0xC74F20A3, "BADHASH="),)))

    class BadName:
        name, key_id = "bad name", peter_signer.key_id

        def sign(self, msg):
            return peter_signer.sign(msg)

    with pytest.raises(NoteError, match="invalid signer"):
        sign_note(TEXT, BadName())

    class Failing:
        name, key_id = peter_signer.name, peter_signer.key_id

        def sign(self, msg):
            raise RuntimeError("surprise!")

    with pytest.raises(RuntimeError, match="surprise!"):
        sign_note(TEXT, Failing())


@pytest.mark.parametrize("text", ["", "abc", "a\x01b\n", "a\rb\n", "\ud800\n"])
def test_sign_rejects_bad_text(peter_signer, text):
    with pytest.raises(MalformedNoteError):
        sign_note(text, peter_signer)


def test_sign_needs_a_signature():
    with pytest.raises(NoteError, match="at least one"):
        sign_note(TEXT)


def test_resign_keeps_other_signatures(peter, enoch, peter_signer):
    # The doubly-signed message of golang/mod sumdb/note/note.go's package doc.
    n = open_note(TEXT + "\n" + ENOCH_SIG, enoch)
    assert sign_note(n, peter_signer) == TEXT + "\n" + ENOCH_SIG + PETER_SIG
    assert open_note(sign_note(n, peter_signer), [peter, enoch]).sigs == (ENOCH, PETER)


# ---------------------------------------------------------------- opening: Go's TestOpen


def test_open_one_verified_one_not(peter):
    n = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
    assert n.text == TEXT
    assert n.sigs == (PETER,)
    assert n.unverified_sigs == (ENOCH,)


def test_open_both_verified(peter, enoch):
    n = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])
    assert n.sigs == (PETER, ENOCH)
    assert n.unverified_sigs == ()


def test_open_both_unverified():
    with pytest.raises(UnverifiedNoteError, match="no verifiable signatures") as info:
        open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])
    assert info.value.note.sigs == ()
    assert info.value.note.unverified_sigs == (PETER, ENOCH)
    assert info.value.note.text == TEXT


def test_open_duplicated_verifier(peter, enoch, peter_signer):
    # Go's VerifierList reports "ambiguous key" for any repeated name+id; we only do so
    # for two different keys with the same name and id, since one key twice is harmless.
    other = Signer.generate("EnochRoot").verifier()
    forged = Verifier.__new__(Verifier)
    for slot in ("name", "public_key", "_key"):
        setattr(forged, slot, getattr(other, slot))
    forged.key_id = enoch.key_id  # a colliding key id, as an attacker could compute
    with pytest.raises(AmbiguousVerifierError, match="ambiguous key EnochRoot\\+af0cfe78"):
        open_note(TEXT + "\n" + ENOCH_SIG, [enoch, peter, forged])
    # Unused ambiguity does not matter, and the same key twice is fine.
    open_note(TEXT + "\n" + PETER_SIG, [enoch, peter, forged])
    assert open_note(TEXT + "\n" + ENOCH_SIG, [enoch, peter, enoch]).sigs == (ENOCH,)


def test_open_too_many_signatures(peter):
    for verifiers in ([peter], []):
        with pytest.raises(MalformedNoteError, match="more than 100"):
            open_note(TEXT + "\n" + PETER_SIG * 101, verifiers)


def test_open_invalid_signature(peter):
    sig = PETER_SIG.encode()
    bad = (TEXT + "\n").encode() + sig[:60] + b"ABCD" + sig[60:]  # Go slices bytes
    with pytest.raises(
        InvalidSignatureError, match="invalid signature for key PeterNeumann\\+c74f20a3"
    ):
        open_note(bad, [peter])


def test_open_duplicated_verified_and_unverified(peter):
    enoch_sig = ENOCH_SIG.encode()
    enoch_abcd = Signature(
        "EnochRoot",
        0xAF0CFE78,
        "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n"
        + "ABCD"
        + "2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
    )
    msg = (
        (TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG).encode()
        + enoch_sig[:60]
        + b"ABCD"
        + enoch_sig[60:]
    )
    n = open_note(msg, [peter])
    assert n.sigs == (PETER,)
    assert n.unverified_sigs == (ENOCH, enoch_abcd)


GO_BAD_MSGS = [
    TEXT.encode(),
    (TEXT + "\n").encode(),
    (TEXT + "\n" + PETER_SIG[:-1]).encode(),
    ("\x01" + TEXT + "\n" + PETER_SIG).encode(),
    b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
    (
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
    ).encode(),
    (TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),
]


@pytest.mark.parametrize("msg", GO_BAD_MSGS)
def test_open_go_bad_messages(peter, msg):
    # golang/mod sumdb/note/note_test.go TestOpen "Invalid encoded message syntax".
    with pytest.raises(MalformedNoteError, match="^malformed note"):
        open_note(msg, [peter])
    with pytest.raises(MalformedNoteError):
        parse_note(msg)


# ---------------------------------------------------------------- opening: our own cases

PETER_B64 = PETER.b64
BAD_NOTES = {
    "no final newline": TEXT + "\n" + PETER_SIG.rstrip("\n"),
    "no blank line": TEXT + PETER_SIG,
    "empty note": "",
    "only blank line": "\n\n",
    "blank line at end": TEXT + "\n" + PETER_SIG + "\n",
    "hyphen instead of em dash": TEXT + "\n- PeterNeumann " + PETER_B64 + "\n",
    "en dash instead of em dash": TEXT + "\n\u2013 PeterNeumann " + PETER_B64 + "\n",
    "em dash without space": TEXT + "\n\u2014PeterNeumann " + PETER_B64 + "\n",
    "two spaces after dash": TEXT + "\n\u2014  PeterNeumann " + PETER_B64 + "\n",
    "no space before signature": TEXT + "\n\u2014 PeterNeumann" + PETER_B64 + "\n",
    "two spaces before signature": TEXT + "\n\u2014 PeterNeumann  " + PETER_B64 + "\n",
    "trailing space": TEXT + "\n\u2014 PeterNeumann " + PETER_B64 + " \n",
    "plus in name": TEXT + "\n\u2014 Peter+Neumann " + PETER_B64 + "\n",
    "empty signature": TEXT + "\n\u2014 PeterNeumann \n",
    "unpadded base64": TEXT + "\n\u2014 PeterNeumann " + PETER_B64.rstrip("=") + "\n",
    "url-safe base64": TEXT + "\n\u2014 PeterNeumann " + PETER_B64.replace("/", "_") + "\n",
    "non-canonical base64": TEXT + "\n\u2014 PeterNeumann " + PETER_B64[:-2] + "N=\n",
    "signature of 4 bytes": TEXT + "\n\u2014 PeterNeumann AAAAAA==\n",
    "carriage return": TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG,
    "CRLF signature line": TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"),
    "tab": "\t" + TEXT + "\n" + PETER_SIG,
    "NUL": TEXT + "\x00\n\n" + PETER_SIG,
    "lone surrogate": "\ud800" + TEXT + "\n" + PETER_SIG,
    "101 signatures": TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1),
    "too large": "a" * MAX_NOTE_SIZE + "\n\n" + PETER_SIG,
}


@pytest.mark.parametrize("msg", BAD_NOTES.values(), ids=BAD_NOTES.keys())
def test_open_rejects_malformed(peter, msg):
    with pytest.raises(MalformedNoteError):
        open_note(msg, [peter])
    with pytest.raises(MalformedNoteError):
        parse_note(msg)


def test_invalid_utf8_bytes(peter):
    good = (TEXT + "\n" + PETER_SIG).encode()
    assert open_note(good, peter).sigs == (PETER,)
    for bad in (b"\xc3" + good, good.replace(b"If", b"I\xed\xa0\x80")):  # truncated, surrogate
        with pytest.raises(MalformedNoteError, match="UTF-8"):
            open_note(bad, peter)


def test_open_round_trip():
    signer = Signer.generate("portal.example/log")
    text = "línea uno\n\nlínea tres, after an empty line\n"
    note = sign_note(text, signer)
    n = open_note(note, signer.verifier())
    assert n.text == text
    assert [(s.name, s.key_id) for s in n.sigs] == [("portal.example/log", signer.key_id)]
    assert open_note(note.encode(), [signer.verifier()]) == n


def test_open_ignores_unknown_keys():
    log, witness = Signer.generate("log.example"), Signer.generate("witness.example")
    note = sign_note("hello\n", witness, log)
    n = open_note(note, log.verifier())
    assert [s.name for s in n.sigs] == ["log.example"]
    assert [s.name for s in n.unverified_sigs] == ["witness.example"]


def test_same_name_other_key_is_unknown():
    # The spec: ignore a signature sharing a name (but not the id) with a known key.
    log, impostor = Signer.generate("log.example"), Signer.generate("log.example")
    note = sign_note("hello\n", impostor, log)
    n = open_note(note, log.verifier())
    assert [s.key_id for s in n.sigs] == [log.key_id]
    assert [s.key_id for s in n.unverified_sigs] == [impostor.key_id]
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note("hello\n", impostor), log.verifier())


def test_bad_signature_from_known_key_rejects_note():
    log, impostor = Signer.generate("log.example"), Signer.generate("log.example")
    # The impostor's signature labelled with the log's key id: a known key that fails.
    forged = base64.b64encode(log.key_id.to_bytes(4, "big") + impostor.sign(b"hello\n"))
    note = "hello\n\n\u2014 log.example " + forged.decode() + "\n"
    with pytest.raises(InvalidSignatureError) as info:
        open_note(note, log.verifier())
    assert (info.value.name, info.value.key_id) == ("log.example", log.key_id)
    # Even next to a valid signature from the same key.
    good = sign_note("hello\n", log)
    with pytest.raises(NoteError):
        open_note(good + note.split("\n\n", 1)[1], log.verifier())


def test_signature_over_other_text_is_rejected():
    log = Signer.generate("log.example")
    note = sign_note("hello\n", log).replace("hello", "hullo")
    with pytest.raises(InvalidSignatureError):
        open_note(note, log.verifier())


def test_two_different_signatures_by_one_known_key_rejected():
    log = Signer.generate("log.example")
    note = sign_note("hello\n", log)
    sig_line = note.split("\n\n", 1)[1]
    name, b64 = sig_line[2:-1].split(" ")
    raw = base64.b64decode(b64)
    other = base64.b64encode(raw[:4] + bytes(64)).decode()  # same key, other bytes
    dup = note + f"\u2014 {name} {other}\n"
    with pytest.raises(MalformedNoteError, match="more than one signature"):
        open_note(dup, log.verifier())
    # As unknown key, it is merely unverified and identical repeats are collapsed.
    with pytest.raises(UnverifiedNoteError) as info:
        open_note(dup + sig_line, Signer.generate("x").verifier())
    assert len(info.value.note.unverified_sigs) == 2


def test_many_signatures_accepted():
    signers = [Signer.generate(f"witness-{i}.example") for i in range(MAX_SIGNATURES)]
    note = sign_note("tree\n", *signers)
    n = open_note(note, [s.verifier() for s in signers[:16]])
    assert len(n.sigs) == 16
    assert len(n.unverified_sigs) == MAX_SIGNATURES - 16
    with pytest.raises(NoteError, match="more than 100"):
        sign_note(Note("tree\n", n.sigs, n.unverified_sigs), Signer.generate("one-more"))


def test_parse_note_leaves_everything_unverified():
    n = parse_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG)
    assert n == Note(TEXT, (), (PETER, ENOCH))


def test_c2sp_example_parses():
    n = parse_note(C2SP_EXAMPLE)
    assert n.text.startswith("Ognuno sta solo sul cuor della terra\n")
    assert n.text.endswith("\ned è subito sera.\n")  # text may contain empty lines
    (sig,) = n.unverified_sigs
    assert sig.name == "quasimodo.example/salvatore"
    raw = base64.b64decode(sig.b64)
    assert len(raw) == 4 + 64 and int.from_bytes(raw[:4], "big") == sig.key_id
    with pytest.raises(UnverifiedNoteError):
        open_note(C2SP_EXAMPLE, parse_verifier_key(PETER_VKEY))


# ---------------------------------------------------------------- sum.golang.org


def test_sumdb_note_verifies():
    n = open_note(SUMDB_NOTE, parse_verifier_key(SUMDB_VKEY))
    assert n.text == "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    assert [(s.name, s.key_id) for s in n.sigs] == [("sum.golang.org", 0x033DE0AE)]


def test_sumdb_note_every_one_character_change_fails():
    verifier = parse_verifier_key(SUMDB_VKEY)
    for i, ch in enumerate(SUMDB_NOTE):
        mutated = SUMDB_NOTE[:i] + chr(ord(ch) + 1) + SUMDB_NOTE[i + 1 :]
        with pytest.raises(NoteError):
            open_note(mutated, verifier)
    with pytest.raises(InvalidSignatureError):
        open_note(SUMDB_NOTE.replace("6476701", "6476702"), verifier)


def test_sumdb_note_with_cosigners():
    # transparency-dev/formats log/note_test.go BenchmarkParse: three extra valid
    # signatures and two unknown ones on the sum.golang.org checkpoint.
    note = SUMDB_NOTE + "".join(s + "\n" for s in WITNESS_SIGS)
    verifiers = [parse_verifier_key(SUMDB_VKEY)] + [parse_verifier_key(v) for v in WITNESS_VKEYS]
    n = open_note(note, verifiers)
    assert [s.name for s in n.sigs] == ["sum.golang.org", "monkeys", "bananas", "witness"]
    assert [s.name for s in n.unverified_sigs] == ["random1", "random2"]
    # A witness key alone also verifies it; the log key is then just unknown.
    n = open_note(note, [verifiers[1]])
    assert [s.name for s in n.sigs] == ["monkeys"]
