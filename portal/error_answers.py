"""Answers to requests Django itself refuses or fails: the API's error body under /api/,
the portal's error page (Chinese, then English) everywhere else.

Django calls these for an unknown path (404), a refused request (400: a body over its
limits, too many fields), a forbidden one (403, a form's CSRF token among them) and an
uncaught exception (500). The API's own views answer their errors themselves
(plumbing/errors.py); these are for what happens before or around them.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

from plumbing import error_codes
from plumbing.error_codes import DRF_ERRORS, ErrorText, PageMessage
from plumbing.errors import error_body, request_refusal

API_PREFIX = "/api/"


def answer(
    request: HttpRequest,
    error: ErrorText,
    page: ErrorText | PageMessage | None = None,
    *,
    field: str | None = None,
    params: Mapping[str, object] | None = None,
) -> HttpResponse:
    """`error` as the API's JSON body under /api/, elsewhere the error page saying `page`
    (or the error's own words), both with the error's status and filled with `params`."""
    params = params or {}
    if request.path_info.startswith(API_PREFIX):
        body = error_body(error, field, params)
        return JsonResponse(body, status=error.status, json_dumps_params={"ensure_ascii": False})
    words = page or error
    context = {
        "status": error.status,
        "zh": words.zh.format(**params),
        "en": words.en.format(**params),
    }
    # Rendered without the request: the page must not depend on the session or the
    # database, which may be what failed.
    return HttpResponse(loader.render_to_string("error.html", context), status=error.status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a body over Django's limits, or another request Django refuses."""
    refusal = request_refusal(exception) if exception is not None else None
    if refusal is not None:
        return answer(request, refusal.error, params=refusal.params)
    return answer(request, error_codes.INVALID_REQUEST, error_codes.PAGE_BAD_REQUEST)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403."""
    return answer(request, DRF_ERRORS["permission_denied"], error_codes.PAGE_FORBIDDEN)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without its token (or from another site)."""
    return permission_denied(request)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404."""
    return answer(request, DRF_ERRORS["not_found"], error_codes.PAGE_NOT_FOUND)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the exception is logged by Django; the client is told to try later."""
    return answer(request, error_codes.SERVER_ERROR)
