"""Rate limits on pages: the same counters as the API's (plumbing/throttling.py), and a
page that says, in plain words, to wait and try again.

A view declares its scope with `@rate_limited("downloads")`; the scope's rate is in
DRF's DEFAULT_THROTTLE_RATES beside the API's (settings such as PAGE_RATE). The check
comes before the view reads anything, an upload's body included, so a refused request
costs one Redis round trip.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from plumbing.throttling import CountingRateThrottle

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class Refusal(Protocol):
    """Makes the answer to a request over its limit, given the seconds to wait."""

    def __call__(self, request: HttpRequest, retry_after: int) -> HttpResponse: ...


def retry_after(wait: float | None) -> int:
    """Whole seconds for Retry-After: rounded up, at least one."""
    return max(1, math.ceil(wait or 0))


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """429: the site's page asking to wait, in the reader's language."""
    minutes = math.ceil(retry_after / 60) if retry_after >= 120 else None
    response = render(
        request,
        "rate_limited.html",
        {"seconds": retry_after, "minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


def rate_limited(scope: str, refuse: Refusal = too_many_requests) -> Callable[[View], View]:
    """Count each request of the view under `scope`; over the rate, answer `refuse`'s 429."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            throttle = CountingRateThrottle()
            if throttle.allow(request, scope):
                return view(request, *args, **kwargs)
            return refuse(request, retry_after(throttle.wait()))

        limited.rate_scope = scope  # type: ignore[attr-defined]  # read by the route check
        return cast(View, limited)

    return decorate
