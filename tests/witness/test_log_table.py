"""WITNESS_LOG_LIST and the Log table: the file is loaded on a process's first request and
whenever it changes; listed logs are marked, dropped ones stop being followed, their state
kept; a broken file changes nothing."""

import pytest
from django.core.checks import run_checks

from tests.witness.fake_log import FakeLog
from witness.models import Log

pytestmark = pytest.mark.django_db


def post(client, body: bytes):
    return client.post("/witness/add-checkpoint", data=body, content_type="text/plain")


@pytest.fixture
def listed(settings, tmp_path):
    path = tmp_path / "log-list"
    settings.WITNESS_LOG_LIST = str(path)
    return path


def test_a_listed_log_is_followed_from_the_first_request(client, listed):
    log = FakeLog("court-e.example/ledger", size=4)
    listed.write_text(f"logs/v0\nvkey {log.vkey}\nqpd 50\ncontact ops@e\n")
    assert post(client, log.body(0)).status_code == 200
    row = Log.objects.get()
    assert (row.from_list, row.active, row.qpd, row.contact, row.size) == (
        True,
        True,
        50,
        "ops@e",
        4,
    )


def test_a_changed_file_is_loaded_again_and_state_survives(client, listed):
    log = FakeLog("court-e.example/ledger", size=4)
    other = FakeLog("court-f.example/ledger", size=2)
    listed.write_text(f"logs/v0\nvkey {log.vkey}\nqpd 50\n")
    assert post(client, log.body(0)).status_code == 200
    listed.write_text(f"logs/v0\nvkey {other.vkey}\nqpd 60\n# and more\n")
    assert post(client, log.body(4)).status_code == 404  # no longer followed
    assert post(client, other.body(0)).status_code == 200
    listed.write_text(f"logs/v0\nvkey {other.vkey}\nqpd 60\nvkey {log.vkey}\nqpd 50\n")
    # Listed again: its state was kept, so a rollback to old 0 is refused.
    response = post(client, log.body(0))
    assert (response.status_code, response.content) == (409, b"4\n")


def test_the_file_wins_over_a_log_added_by_hand(client, listed):
    log = FakeLog("court-e.example/ledger", size=4)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=5)
    listed.write_text(f"logs/v0\nvkey {log.vkey}\nqpd 500\n")
    client.get("/witness/logs")
    row = Log.objects.get()
    assert (row.qpd, row.from_list) == (500, True)


def test_a_broken_file_changes_nothing_and_is_named_by_the_system_check(client, listed, caplog):
    log = FakeLog("court-e.example/ledger", size=4)
    Log.objects.create(origin=log.origin, vkey=log.vkey, qpd=5)
    listed.write_text("logs/v0\nvkey nonsense\nqpd 1\n")
    assert post(client, log.body(0)).status_code == 200
    assert "not loaded" in caplog.text
    errors = [e for e in run_checks() if e.id == "witness.E001"]
    assert len(errors) == 1 and "line 2" in errors[0].msg


def test_no_file_means_only_the_table(client, settings):
    settings.WITNESS_LOG_LIST = ""
    assert client.get("/witness/logs").json()["logs"] == []
    assert not [e for e in run_checks() if e.id == "witness.E001"]
