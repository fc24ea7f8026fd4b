"""Site-wide pages: the home page, the alliance page and the health endpoint."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from drf_spectacular.views import SpectacularAPIView

from anchoring import alliance, store
from plumbing.page_limits import rate_limited
from portal import health


@rate_limited("pages")
def home(request: HttpRequest) -> HttpResponse:
    """The front page: what the portal is and where the ledger can be read. A record code
    refused by /lookup comes back here, kept in its box, and a file or photo refused by
    /verify or /verify/photo, named: each message beside its field."""
    from verification.views import home_fields

    context = {"checkpoint": store.latest_checkpoint(), **home_fields(request)}
    return render(request, "home.html", context)


@never_cache
@rate_limited("pages")
def alliance_page(request: HttpRequest) -> HttpResponse:
    """Who vouches for this ledger: the log, its witnesses and their state, the quorum."""
    return render(request, "alliance.html", {"alliance": alliance.overview()})


@rate_limited("pages")
def courts_page(request: HttpRequest) -> HttpResponse:
    """The courts that record files here, and how a litigant reaches each."""
    from documents.models import Court

    return render(request, "courts.html", {"courts": Court.objects.order_by("code")})


@never_cache
@rate_limited("pages")
def healthz(request: HttpRequest) -> JsonResponse:
    """Health of database, broker and ledger; 503 when any is down."""
    healthy, body = health.report()
    return JsonResponse(body, status=200 if healthy else 503)


class ApiSchemaView(SpectacularAPIView):
    """The OpenAPI description, generated on each request: limited as a page is."""

    throttle_scope = "pages"
