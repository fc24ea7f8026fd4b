"""Settings come from the environment or, for any NAME, from the file NAME_FILE names."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings(env: dict[str, str], *names: str) -> dict:
    """The values of these settings in a fresh process with exactly this environment."""
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: str(getattr(s, n)) for n in {list(names)!r}}}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_secrets_are_read_from_files_without_their_line_end(tmp_path):
    (tmp_path / "url").write_text("postgres://web:p%40ss@db.example:5432/portal\n")
    (tmp_path / "key").write_text("a-secret-key-from-a-file\r\n")
    found = _settings(
        {"DATABASE_URL_FILE": str(tmp_path / "url"), "SECRET_KEY_FILE": str(tmp_path / "key")},
        "SECRET_KEY",
        "DATABASES",
        "EMBEDDED",
    )
    assert found["SECRET_KEY"] == "a-secret-key-from-a-file"
    assert "'PASSWORD': 'p@ss'" in found["DATABASES"] and "'NAME': 'portal'" in found["DATABASES"]
    assert found["EMBEDDED"] == "False"  # a database URL in a file is production too


def test_the_environment_alone_still_works(tmp_path):
    found = _settings(
        {"DATABASE_URL": "postgres://web@db.example/portal", "SECRET_KEY": "plain"}, "SECRET_KEY"
    )
    assert found["SECRET_KEY"] == "plain"


def test_every_setting_read_from_the_environment_is_documented():
    import re

    read = set(
        re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', (ROOT / "portal/settings.py").read_text())
    )
    documented = (ROOT / "README.md").read_text() + (ROOT / "docs/operations.md").read_text()
    assert read and not sorted(n for n in read if f"`{n}`" not in documented)
