"""The embedded default of `make run`: SQLite, in-process sequencer, generated keys.

Run as child processes with none of the suite's service variables, the way a new user's
first command runs, so the SQLite paths of the ledger are exercised for real.
"""

import json
import os
import re
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
def embedded(tmp_path, settings):
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["PORTAL_DATA_DIR"] = str(tmp_path / "data")
    env["LEDGER_BATCH_PERIOD"] = "0.1"
    env["FONT_CACHE_DIR"] = str(settings.FONT_CACHE_DIR)  # cut the fonts once per suite

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


def test_make_runs_demo_certificate_passes_the_offline_verifier(embedded, tmp_path):
    """The seeded judgment's certificate, from the embedded default's development CA,
    checked by `judicial-verify` with the policy `manage.py trust_policy` prints."""
    seeded = embedded("seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    number = re.search(r"/c/([0-9A-Z-]+)", seeded.stdout).group(1).replace("-", "")
    stamped = re.search(r"stamped PDF: (\S+)", seeded.stdout).group(1)
    policy = embedded("trust_policy")
    assert policy.returncode == 0 and "portal-ca " in policy.stdout, policy.stderr
    (tmp_path / "policy.txt").write_text(policy.stdout)
    pdf = tmp_path / "data" / "media" / "certificates" / f"{number}.pdf"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "verification.offline",
            "certificate",
            str(pdf),
            "--file",
            stamped,
            "--policy",
            str(tmp_path / "policy.txt"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("VERIFIED")
