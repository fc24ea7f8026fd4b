"""Answers to requests Django itself refuses or fails: the API's error body under /api/
(both languages), the portal's error page in the reader's language everywhere else.

Django calls these for an unknown path (404), a refused request (400: a body over its
limits, too many fields), a forbidden one (403), a form whose CSRF token is missing or
stale (403, its own words) and an uncaught exception (500). The API's own views answer
their errors themselves (plumbing/errors.py); these are for what happens before or
around them.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import translation
from django.utils.translation import gettext_lazy

from plumbing import error_codes
from plumbing.error_codes import DRF_ERRORS, ErrorText, PageMessage
from plumbing.errors import error_body, request_refusal
from plumbing.redirects import local_target
from portal.language import html_lang

API_PREFIX = "/api/"

# Each error page's heading, by status (a 5xx is "try again later", any other 4xx "bad request").
HEADINGS = {
    403: gettext_lazy("Forbidden"),
    404: gettext_lazy("Page not found"),
    413: gettext_lazy("Request too large"),
}
BAD_REQUEST = gettext_lazy("Bad request")
TRY_LATER = gettext_lazy("Try again later")
# A form refused for its CSRF token: what happened and what to do, not "forbidden".
CSRF_HEADING = gettext_lazy("The form could not be sent")
CSRF_REASON = gettext_lazy(
    "The page was open for too long, or your browser blocks cookies, so the form was not "
    "accepted. Nothing you sent was processed."
)
CSRF_HINT = gettext_lazy(
    "Go back, reload the page and send it again. If this happens again, allow cookies "
    "for this site."
)


def heading(status: int) -> str:
    """The error page's heading for `status`."""
    return str(HEADINGS.get(status, TRY_LATER if status >= 500 else BAD_REQUEST))


def render_page(request: HttpRequest, status: int, context: Mapping[str, object]) -> HttpResponse:
    """error.html with `status`, in the language the request asks for (its cookie, else
    Accept-Language), also when LocaleMiddleware has not run yet (a middleware refused it).

    Rendered without the request: the page must not depend on the session or the
    database, which may be what failed."""
    with translation.override(translation.get_language_from_request(request)):
        page = {"status": status, "heading": heading(status), **html_lang(request), **context}
        return HttpResponse(loader.render_to_string("error.html", page), status=status)


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
    language = translation.get_language_from_request(request)
    message = PageMessage(words.zh, words.en).in_language(language, **params)
    return render_page(request, error.status, {"message": message})


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
    """CSRF_FAILURE_VIEW: a form sent without its token, with a stale one (the page was
    open too long, the session ended) or without cookies. Nothing was done: the reader
    is offered the page the form came from, to send it again."""
    if request.path_info.startswith(API_PREFIX):
        return permission_denied(request)
    context = {
        "heading": CSRF_HEADING,
        "message": CSRF_REASON,
        "hint": CSRF_HINT,
        "back": local_target(request, request.headers.get("Referer"), "/"),
    }
    return render_page(request, 403, context)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404."""
    return answer(request, DRF_ERRORS["not_found"], error_codes.PAGE_NOT_FOUND)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the exception is logged by Django; the client is told to try later."""
    return answer(request, error_codes.SERVER_ERROR)
