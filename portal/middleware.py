"""The portal's middleware: a NUL in a request's address refused before any view, Django's
page middleware skipped on the JSON API under /api/v1/, and the API's reference cycles
broken once its answer is rendered.

The API authenticates every request by its token (or needs none) and answers JSON in
both languages: sessions, the language, CSRF, users, messages and frame options do
nothing there, yet cost about a quarter of a millisecond per request, a tenth of what a
court's record costs the server (docs/benchmarks.md, "Court API on gevent"). They are
subclasses, so Django's admin checks still find them.
"""

from __future__ import annotations

from collections.abc import Awaitable

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware import clickjacking, csrf, locale
from django.utils.deprecation import MiddlewareMixin

from plumbing import error_codes
from portal import error_answers

API_PREFIX = "/api/v1/"
# Other machine endpoints that use no session, user, language, message or frame option.
MACHINE_PATHS = (API_PREFIX, "/witness/add-checkpoint")


class RefuseNul:
    """Refuse a path or query string holding a NUL character (400 invalid_characters).

    PostgreSQL text cannot hold NUL, so any view that looked such a value up would fail
    with a 500; no valid record code, id, digest or date contains one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info:
            field = "path"
        elif "%00" in query or "\x00" in query:
            names = [k for k, values in request.GET.lists() if "\x00" in k + "".join(values)]
            field = names[0] if names and "\x00" not in names[0] else "query"
        else:
            return self.get_response(request)
        return error_answers.answer(request, error_codes.NUL_IN_ADDRESS, field=field)


class _PagesOnly(MiddlewareMixin):
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if request.path_info.startswith(MACHINE_PATHS):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_PagesOnly, sessions.SessionMiddleware):
    pass


class LocaleMiddleware(_PagesOnly, locale.LocaleMiddleware):
    pass


class CsrfViewMiddleware(_PagesOnly, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(_PagesOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_PagesOnly, messages.MessageMiddleware):
    pass


class XFrameOptionsMiddleware(_PagesOnly, clickjacking.XFrameOptionsMiddleware):
    pass


class BreakApiCycles:
    """Free a DRF request's objects as soon as its answer is rendered.

    Django's View.setup() sets `view.head = view.get`, and DRF's parser and renderer
    contexts point back at the view, request and response that hold them: about 60
    objects per request that only the cyclic garbage collector could free. A court
    request lives a second or two (it waits for its batch), long enough to be moved to
    the oldest generation, so those objects piled up there and each full collection
    paused a gevent worker, every request in it, for 0.4 to 0.7 s. Once the answer is
    rendered nothing reads them; with the cycles broken, reference counting frees them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        context = getattr(response, "renderer_context", None)
        if context and getattr(response, "is_rendered", False):
            view, drf_request = context.get("view"), context.get("request")
            if view is not None:
                view.__dict__.clear()
            if drf_request is not None:
                drf_request.parser_context = None
            response.renderer_context = None
        return response
