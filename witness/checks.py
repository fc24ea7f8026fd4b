"""A system check (`manage.py check`, every start of runserver): WITNESS_LOG_LIST, when set,
is a readable log list, so a mistake in it is named at start, not at the first request."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register

from witness.log_list import LogListError, parse_log_list


@register()
def log_list_parses(app_configs, **kwargs) -> list[Error]:
    """Parse WITNESS_LOG_LIST; an error names the file and the line at fault."""
    if not settings.WITNESS_LOG_LIST:
        return []
    path = Path(settings.WITNESS_LOG_LIST)
    try:
        parse_log_list(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, LogListError) as exc:
        return [Error(f"WITNESS_LOG_LIST {path}: {exc}", id="witness.E001")]
    return []
