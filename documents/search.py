"""The judges' search of records: which rows the portal's database holds that match.

A finder, not a check: it reads the rows, never the ledger. The record page each result
links to checks the record against the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from documents.models import Court, Record


@dataclass(frozen=True)
class Criteria:
    """What a judge searches by; every field given narrows the search, None is not used.

    `code` is canonical (documents.codes.normalize); `recorded_from` and `recorded_to`
    are days in the portal's time zone, both included.
    """

    code: str | None = None
    case_number: str | None = None
    court: Court | None = None
    recorded_from: date | None = None
    recorded_to: date | None = None
    party: str | None = None

    def empty(self) -> bool:
        """Nothing to search by."""
        return all(value in (None, "") for value in vars(self).values())


def _like(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_party(text: str) -> RawSQL:
    """True for a record with a party whose name contains `text`, case-insensitively.

    Parties are kept in the row as a JSON list of names (the ledger holds only a salted
    digest of them): each element is compared, not the list's JSON text.
    """
    table = connection.ops.quote_name(Record._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({table}.parties) AS party"
            " WHERE party ILIKE %s)"
        )
    else:  # SQLite, the embedded default: LIKE ignores the case of ASCII letters only
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({table}.parties)"
            " WHERE json_each.value LIKE %s ESCAPE '\\')"
        )
    return RawSQL(sql, [_like(text)], output_field=BooleanField())


def _start_of(day: date) -> datetime:
    """The first instant of `day` in the portal's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def records(criteria: Criteria) -> QuerySet[Record]:
    """The records matching every given criterion, newest first (none when it is empty).

    The case number and the party match anywhere in the text, ignoring case.
    """
    found = Record.objects.select_related("court").order_by("-recorded_at", "-id")
    if criteria.empty():
        return found.none()
    if criteria.code:
        found = found.filter(code=criteria.code)
    if criteria.case_number:
        found = found.filter(case_number__icontains=criteria.case_number)
    if criteria.court is not None:
        found = found.filter(court=criteria.court)
    if criteria.recorded_from is not None:
        found = found.filter(recorded_at__gte=_start_of(criteria.recorded_from))
    if criteria.recorded_to is not None:
        found = found.filter(recorded_at__lt=_start_of(criteria.recorded_to + timedelta(days=1)))
    if criteria.party:
        found = found.filter(_has_party(criteria.party))
    return found


@dataclass(frozen=True)
class Results:
    """One page of a search's results; `more` when more records match than are listed."""

    page: Page
    listed: int
    more: bool


def page_of(criteria: Criteria, number: str | None, *, per_page: int, limit: int) -> Results:
    """Page `number` (any text; out of range gives the nearest page) of the newest `limit`
    records matching `criteria`, `per_page` to a page."""
    found = records(criteria)
    listed = found[: limit + 1].count()
    paginator = Paginator(found[:limit], per_page)
    return Results(paginator.get_page(number), min(listed, limit), listed > limit)
