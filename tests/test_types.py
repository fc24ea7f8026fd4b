"""mypy, with the Django and DRF plugins, finds no type error in the portal's packages
(the configuration is pyproject.toml's [tool.mypy])."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_packages_type_check():
    mypy = Path(sys.executable).parent / "mypy"
    with tempfile.TemporaryDirectory() as data_dir:
        # The plugin imports the settings, which create the embedded keys under
        # PORTAL_DATA_DIR: a throwaway folder, never the checkout's.
        env = {**os.environ, "PORTAL_DATA_DIR": data_dir}
        result = subprocess.run(
            [str(mypy)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stdout + result.stderr
