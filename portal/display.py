"""The large-text mode (大字版) for older readers: a choice kept in a cookie, so that it holds
on every page and on the next visit, and works without JavaScript."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from plumbing.page_limits import rate_limited
from plumbing.redirects import redirect_back

COOKIE = "display"
LARGE = "large"


def large_text(request: HttpRequest) -> dict:
    """Context processor: whether this reader chose large text."""
    return {"large_text": request.COOKIES.get(COOKIE) == LARGE}


@require_POST
@rate_limited("pages")
def choose(request: HttpRequest) -> HttpResponse:
    """Switch large text on (`size=large`) or off (anything else), then back to the page."""
    response = redirect_back(request, request.POST.get("back"), "/")
    if request.POST.get("size") == LARGE:
        response.set_cookie(
            COOKIE,
            LARGE,
            max_age=settings.DISPLAY_COOKIE_AGE,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    else:
        response.delete_cookie(COOKIE, samesite="Lax")
    return response
