"""The verification pages in the reader's language: the label of a stored choice, and the
strings the pages' script (static/js/verify.js) shows, given to it by the page."""

from __future__ import annotations

import re

from django import template
from django.conf import settings
from django.utils import translation
from django.utils.html import json_script
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from plumbing import error_codes
from plumbing.bilingual import half
from verification.models import Verification

register = template.Library()

# A Chinese character or full-width punctuation: how a bilingual label begins.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _chinese() -> bool:
    return (translation.get_language() or settings.LANGUAGE_CODE).startswith("zh")


@register.filter
def label_in_language(label: object) -> str:
    """The reader's half of a choice's label written "中文 English" (an outcome, a
    status, a category, a service event: plumbing/bilingual.py); a label that does not
    begin in Chinese, as it is."""
    text = str(label or "")
    if not _CJK.match(text):
        return text
    return half(text, translation.get_language() or settings.LANGUAGE_CODE)


@register.filter
def outcome_label(outcome: str) -> str:
    """The bilingual label of an outcome value ("verified" → "核验通过 Verified")."""
    return str(Verification.Outcome(outcome).label) if outcome else ""


def refused_file(name: str, problem: str) -> str:
    """A message about a chosen file that was refused, naming it so that the reader knows
    which to choose again."""
    return gettext("“%(name)s”: %(problem)s") % {"name": name, "problem": problem}


@register.simple_tag
def verify_strings() -> SafeString:
    """The script's texts in the page's language, and the largest file and photo the
    portal takes, as a JSON data block (`#verify-strings`); `{name}`, `{done}`... are
    filled in by the script."""
    language = "zh" if _chinese() else "en"
    gib = settings.VERIFY_MAX_FILE_SIZE / (1 << 30)
    too_large = {
        "file": error_codes.PAGE_FILE_TOO_LARGE.in_language(language, limit=f"{gib:g}"),
        "photo": error_codes.PAGE_PHOTO_TOO_LARGE.in_language(language),
    }
    strings = {
        "language": language,
        "chooseFirst": gettext("Choose a file first."),
        "hashing": gettext("Hashing on your device: {done} / {total} ({percent}%)"),
        "uploading": gettext("Uploading: {done} / {total} ({percent}%)"),
        "left": gettext(" about {seconds} s left"),
        "uploaded": gettext("Uploaded; checking…"),
        "digestFailed": gettext("Could not compute or send the digest; upload instead."),
        "limits": {"file": settings.VERIFY_MAX_FILE_SIZE, "photo": settings.VERIFY_MAX_PHOTO_SIZE},
        "tooLarge": {field: refused_file("{name}", text) for field, text in too_large.items()},
    }
    return json_script(strings, "verify-strings")
