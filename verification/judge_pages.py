"""/judges: where a judge lands after signing in, to find records and see recent checks.

Signed-in users with the permission FULL_RECORD only; anyone else signed in is refused
with a page saying why, and the anonymous are sent to the sign-in page.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from documents import search
from documents.models import Court
from plumbing.page_limits import rate_limited
from verification.judge_search_form import JudgeSearchForm
from verification.models import Verification
from verification.record_check import faces_of, ledger_agrees
from verification.views import FULL_RECORD


@require_safe
@rate_limited("pages")
def judges(request: HttpRequest) -> HttpResponse:
    """The search of records by code, case number, court, days recorded and party, and
    the portal's latest verifications of records."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.has_perm(FULL_RECORD):
        return render(request, "verification/judges_forbidden.html", status=403)
    filled = any(request.GET.get(name, "").strip() for name in JudgeSearchForm.base_fields)
    form = JudgeSearchForm(request.GET if filled else None)
    results = None
    if filled and form.is_valid():
        results = search.page_of(
            form.criteria(),
            request.GET.get("page"),
            per_page=settings.JUDGE_SEARCH_PAGE_SIZE,
            limit=settings.JUDGE_SEARCH_MAX_RESULTS,
        )
    # Nothing links a verification to the person who ran it: these are everyone's.
    latest = (
        Verification.objects.filter(record__isnull=False)
        .select_related("record__court")
        .order_by("-created_at")[: settings.JUDGE_RECENT_VERIFICATIONS]
    )
    # Never "matched" from the row alone: each record is checked against the ledger again.
    faces = faces_of(latest)
    recent = [(v, v.outcome_now(ledger_agrees(v, faces.get(v.record_id)))) for v in latest]
    return render(
        request,
        "verification/judges.html",
        {
            "form": form,
            # The search button was pressed with nothing filled in: say what to do.
            "nothing_asked": "search" in request.GET and not filled,
            "courts": Court.objects.order_by("code"),
            "results": results,
            "limit": settings.JUDGE_SEARCH_MAX_RESULTS,
            "recent": recent,
        },
    )
