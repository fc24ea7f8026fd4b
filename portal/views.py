"""Site-wide pages: the home page and the health endpoint."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from anchoring import store
from portal import health


def home(request: HttpRequest) -> HttpResponse:
    """The front page: what the portal is and where the ledger can be read."""
    return render(request, "home.html", {"checkpoint": store.latest_checkpoint()})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Health of database, broker and ledger; 503 when any is down."""
    healthy, body = health.report()
    return JsonResponse(body, status=200 if healthy else 503)
