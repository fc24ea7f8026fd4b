"""`manage.py check --deploy` with production settings warns of nothing but what
docs/operations.md lists and explains."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What docker/portal.env.example and the compose file's secrets give a deployment.
PRODUCTION = {
    "DATABASE_URL": "postgres://portal_web:secret@postgres:5432/portal",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "CELERY_BROKER_URL": "redis://redis:6379/0",
    "CACHE_URL": "rediscache://redis:6379/1",
    "ALLOWED_HOSTS": "verify.court.example",
    "PUBLIC_BASE_URL": "https://verify.court.example",
    "CSRF_TRUSTED_ORIGINS": "https://verify.court.example",
    "LEDGER_SEQUENCER": "off",
}


def _deploy_warnings(env: dict[str, str], tmp_path: Path) -> set[str]:
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        env={"PATH": os.environ["PATH"], "PORTAL_DATA_DIR": str(tmp_path), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return set(re.findall(r"\(([a-z_]+\.[WE]\d+)\)", run.stdout + run.stderr))


def test_production_settings_pass_the_deploy_check(tmp_path):
    operations = (ROOT / "docs" / "operations.md").read_text()
    explained = set(re.findall(r"`([a-z_]+\.W\d+)`", operations))
    found = _deploy_warnings(PRODUCTION, tmp_path)
    assert found <= explained, f"not explained in docs/operations.md: {sorted(found - explained)}"
    assert found == {"security.W021"}  # HSTS preload stays the operator's decision


def test_the_settings_it_checks_are_settings(tmp_path):
    """Turning them off is a deployment's choice, and the check says so."""
    found = _deploy_warnings(
        {**PRODUCTION, "SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "false"}, tmp_path
    )
    assert {"security.W004", "security.W008"} <= found
