"""The witness's commands: witness_vkey, witness_keygen, witness_add_log, witness_load_logs."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from anchoring.cosignature import CosignatureVerifier, parse_witness_key
from anchoring.note import new_signer_key, parse_signer_key
from tests.witness.conftest import WITNESS_NAME
from witness import keys
from witness.models import Log


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_witness_vkey_prints_one_line_the_type_4_key_of_the_witness(settings):
    out = run("witness_vkey")
    assert out.count("\n") == 1
    verifier = parse_witness_key(out.strip())
    assert isinstance(verifier, CosignatureVerifier)
    assert verifier.name == WITNESS_NAME
    assert verifier.public_key == keys.signer().public_key
    # The key file is a Go note signer key named for the witness.
    text = settings.WITNESS_SIGNING_KEY_FILE.read_text()
    assert text.startswith(f"PRIVATE+KEY+{WITNESS_NAME}+")
    assert settings.WITNESS_SIGNING_KEY_FILE.stat().st_mode & 0o777 == 0o600


def test_without_a_key_file_and_generation_off_it_says_how_to_make_one(settings):
    settings.WITNESS_GENERATE_KEY = False
    with pytest.raises(Exception, match="witness_keygen"):
        run("witness_vkey")


def test_a_key_named_otherwise_is_refused(settings):
    skey, _ = new_signer_key("someone.else/witness")
    settings.WITNESS_SIGNING_KEY_FILE.parent.mkdir(parents=True)
    settings.WITNESS_SIGNING_KEY_FILE.write_text(skey + "\n")
    with pytest.raises(Exception, match="WITNESS_NAME"):
        run("witness_vkey")


def test_witness_keygen_writes_a_new_key_and_never_overwrites(tmp_path):
    path = tmp_path / "w.key"
    out = run("witness_keygen", out=path, name="notary.example/witness")
    verifier = parse_witness_key(out.strip())
    assert isinstance(verifier, CosignatureVerifier)
    assert verifier.public_key == parse_signer_key(path.read_text().strip()).public_key
    with pytest.raises(CommandError, match="already exists"):
        run("witness_keygen", out=path)


@pytest.mark.django_db
def test_witness_add_log_follows_a_log_and_updates_it(settings):
    _, vkey = new_signer_key("court-c.example/ledger")
    out = run("witness_add_log", vkey)
    assert "court-c.example/ledger" in out
    row = Log.objects.get()
    assert (row.origin, row.vkey, row.qpd, row.contact, row.active, row.from_list) == (
        "court-c.example/ledger",
        vkey,
        settings.WITNESS_DEFAULT_QPD,
        "",
        True,
        False,
    )
    run("witness_add_log", vkey, qpd=24, contact="ops@court-c.example")
    row = Log.objects.get()
    assert (row.qpd, row.contact) == (24, "ops@court-c.example")
    run("witness_add_log", vkey, origin="court-c.example/other")
    assert Log.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "words"),
    [(["not-a-vkey"], "invalid vkey"), (["{vkey}", "--qpd", "0"], "--qpd")],
)
def test_witness_add_log_refuses_bad_input(args, words):
    _, vkey = new_signer_key("court-c.example/ledger")
    with pytest.raises(CommandError, match=words):
        run("witness_add_log", *[a.format(vkey=vkey) for a in args])
    assert not Log.objects.exists()


@pytest.mark.django_db
def test_witness_add_log_leaves_a_listed_log_to_its_file(settings, tmp_path):
    _, vkey = new_signer_key("court-d.example/ledger")
    path = tmp_path / "logs.txt"
    path.write_text(f"logs/v0\nvkey {vkey}\nqpd 100\n")
    assert "1 logs followed" in run("witness_load_logs", str(path))
    with pytest.raises(CommandError, match="WITNESS_LOG_LIST"):
        run("witness_add_log", vkey)


@pytest.mark.django_db
def test_witness_load_logs_names_the_bad_line(tmp_path):
    path = tmp_path / "logs.txt"
    path.write_text("logs/v0\nqpd 1\n")
    with pytest.raises(CommandError, match="line 2"):
        run("witness_load_logs", str(path))
