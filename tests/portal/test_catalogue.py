"""Every text the sources mark for translation has a Chinese translation: Django's
makemessages, run on a copy of the sources and the catalogue, finds no text without one
and none marked fuzzy; and the real catalogue passes msgfmt's checks.

The copy holds what the pages and the admin are made of (the apps, templates and the
catalogue); tests, benchmarks, static files and the demo court document are left out.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# What is copied: the Django apps, the site's templates, the catalogue, manage.py.
SOURCES = ["manage.py", "portal", "plumbing", "documents", "anchoring", "verification", "witness"]
SOURCES += ["demo", "templates", "locale"]
SKIPPED = shutil.ignore_patterns("__pycache__", "*.mo", "migrations")
# Not the portal's texts: the demo court document stays as a court would write it.
IGNORED = ["templates/demo/*"]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """The catalogue as makemessages leaves it after reading a copy of the sources."""
    copy = tmp_path_factory.mktemp("catalogue")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=SKIPPED)
        else:
            shutil.copy2(source, copy / name)
    ignore = [arg for pattern in IGNORED for arg in ("--ignore", pattern)]
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete", *ignore],
        cwd=copy,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        check=True,
        capture_output=True,
    )
    return copy / CATALOGUE.relative_to(ROOT)


def _msgids(po: Path, *selection: str) -> list[str]:
    """The msgids (with their context, if any) that msgattrib selects from `po`."""
    out = subprocess.run(
        ["msgattrib", *selection, "--no-obsolete", "--no-wrap", str(po)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.findall(r'^(?:msgctxt "(.*)"\n)?msgid "(.*)"$', out, re.MULTILINE)
    return [f"{context}|{text}" if context else text for context, text in found if text]


def test_the_copy_read_the_sources(extracted):
    """The extraction saw the pages and the admin: an empty catalogue would pass below."""
    text = extracted.read_text()
    for reference in ("templates/base.html", "templates/error.html", "documents/models.py"):
        assert f"#: {reference}:" in text or f" {reference}:" in text, reference


def test_every_marked_text_has_a_chinese_translation(extracted):
    assert _msgids(extracted, "--untranslated") == []


def test_no_translation_is_fuzzy(extracted):
    """A fuzzy entry is msgmerge's guess from a similar text: not shown, not a translation."""
    assert _msgids(extracted, "--only-fuzzy") == []


def test_the_catalogue_passes_msgfmts_checks(tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(CATALOGUE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
