"""`in_language`: the half of a bilingual value (an error text, a step, a court's name)
in the reader's language, for values that are stored or declared in both languages."""

from __future__ import annotations

from django import template
from django.utils import translation

register = template.Library()


@register.filter
def in_language(value: object, stem: str = "") -> object:
    """`value.<stem>_zh` or `value.<stem>_en` (`value.zh` / `value.en` without a stem),
    by attribute or key, in the active language; Chinese when English is missing."""
    chinese = (translation.get_language() or "zh-hans").startswith("zh")
    names = [f"{stem}_zh" if stem else "zh"] if chinese else [f"{stem}_en" if stem else "en"]
    names.append(f"{stem}_zh" if stem else "zh")
    for name in names:
        found = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if found not in (None, ""):
            return found
    return ""
