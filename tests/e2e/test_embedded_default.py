"""The embedded default of `make run`: SQLite, in-process sequencer, generated keys.

Run as child processes with none of the suite's service variables, the way a new user's
first command runs, so the SQLite paths of the ledger are exercised for real.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "SECRET_KEY",
    "LEDGER_GENERATE_KEY",
    "LEDGER_SIGNING_KEY_FILE",
    "LEDGER_SEQUENCER",
)


@pytest.fixture
def embedded(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["PORTAL_DATA_DIR"] = str(tmp_path / "data")
    env["LEDGER_BATCH_PERIOD"] = "0.1"

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert manage("migrate", "-v0").returncode == 0
    return manage


def test_anchoring_on_sqlite_with_the_in_process_sequencer(embedded, tmp_path):
    files = []
    for i in range(300):  # more than one tile, so full tiles and partial ones are read
        path = tmp_path / f"f{i}.txt"
        path.write_text(f"archive {i}")
        files.append(str(path))
    first = embedded("anchor", *files)
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(300))
    # A second process continues the same log from its stored tiles.
    second = embedded("anchor", files[0])
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["index"] == 300
    assert (tmp_path / "data" / "portal.sqlite3").exists()
    assert (tmp_path / "data" / "keys" / "ledger.key").stat().st_mode & 0o777 == 0o600


def test_append_only_triggers_hold_on_sqlite(embedded, tmp_path):
    embedded("anchor", __file__)
    import sqlite3

    db = sqlite3.connect(tmp_path / "data" / "portal.sqlite3")
    for sql in ("UPDATE anchoring_entry SET kind = 2", "DELETE FROM anchoring_checkpoint"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
