"""Request bodies held to their view's limit before a byte of them is read or written.

A view that takes files declares the most it takes and how it refuses more
(`limited_body`, or a `body_limit` attribute on a class-based view); every other view
takes at most DATA_UPLOAD_MAX_MEMORY_SIZE. BodyLimitMiddleware, ahead of everything that
reads a body (CSRF reads a form's fields), answers at once with the view's refusal (413)
when the body's Content-Length is over the limit, or when the reverse proxy already found
it so and sent the request on without its body (X-Body-Too-Large). Otherwise it puts an
UploadCap first among the request's upload handlers, so that files passing the limit as
they stream in are stopped there, whatever Django spooled of them is deleted, and the
view's refusal is the answer instead of anything the view began with the rest of the form.

A body sent in chunks, with no Content-Length, is refused (411): Django reads a WSGI
request's body only as far as its Content-Length, so it would take such a body for an
empty one and answer for a form that was never read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin
from rest_framework.views import APIView

from plumbing import error_codes
from plumbing.error_codes import PageMessage
from plumbing.errors import Refusal

View = TypeVar("View", bound=Callable[..., Any])

# Room for a multipart form's boundaries and small fields around its file: a body may be
# this much larger than the view's limit on files before its length alone refuses it.
# docker/nginx/settings.envsh adds the same to the limits it gives nginx.
FORM_ALLOWANCE = 64 * 1024
# Set by the reverse proxy on a request whose body it refused for its size.
PROXY_REFUSED = "HTTP_X_BODY_TOO_LARGE"


class UploadTooLarge(Exception):
    """Raised out of the parsing of a request whose files passed the limit; their bytes
    are dropped and any file spooled for them is deleted."""


class UploadCap(FileUploadHandler):
    """First of a request's upload handlers: counts the bytes of its files as they stream
    in and passes them on, stopping the upload as soon as they pass `limit`."""

    chunk_size = 0  # none of its own: the parser reads the chunks the other handlers ask for

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            # Django then closes (so deletes) the other handlers' files and reads no more.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the handlers after this one make the file

    def upload_complete(self) -> None:
        # Raised only now, after Django has closed the files, and instead of the partial
        # form: a view must not act on the fields that came before the file.
        if self.exceeded:
            raise UploadTooLarge


Refuse = Callable[[HttpRequest], HttpResponse]


@dataclass(frozen=True)
class BodyLimit:
    """What a view takes: at most `files()` bytes of files in a body at most `allowance`
    bytes larger, and the answer to a request over it."""

    files: Callable[[], int]
    refuse: Refuse
    allowance: int = FORM_ALLOWANCE

    def body(self) -> int:
        """The largest Content-Length taken."""
        return self.files() + self.allowance


def limited_body(files: Callable[[], int], refuse: Refuse) -> Callable[[View], View]:
    """Declare the most a (function) view takes in files, and its refusal of more.

    A page view so declared reads its form itself: csrf_exempt outside, csrf_protect
    around the part that reads (as /verify and /verify/photo do). An upload stopped at the
    limit is answered from the exception it raises out of the view; read by CSRF's
    middleware, before the view, it would be a server error.
    """

    def declare(view: View) -> View:
        view.body_limit = BodyLimit(files, refuse)  # type: ignore[attr-defined]
        return view

    return declare


def json_refusal(refusal: Refusal) -> HttpResponse:
    """The API's answer to a body over its limit: its error, in the API's shape."""
    return JsonResponse(
        refusal.body, status=refusal.status_code, json_dumps_params={"ensure_ascii": False}
    )


def page_refusal(
    request: HttpRequest, message: PageMessage, status: int = 413, **params: object
) -> HttpResponse:
    """A page's answer to a body it does not take: the message in the reader's language,
    also when LocaleMiddleware has not run yet (this middleware comes before it)."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        context = {"message": message.in_language(language, **params)}
        return render(request, "body_refused.html", context, status=status)


def _answers_json(view: Callable[..., Any]) -> bool:
    view_class = getattr(view, "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def _small_body(view: Callable[..., Any]) -> BodyLimit:
    """The limit of a view that declares none: DATA_UPLOAD_MAX_MEMORY_SIZE, all told."""
    api = _answers_json(view)

    def limit() -> int:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0

    def refuse(request: HttpRequest) -> HttpResponse:
        if api:
            return json_refusal(Refusal(error_codes.REQUEST_TOO_LARGE, limit=limit()))
        return page_refusal(request, error_codes.PAGE_REQUEST_TOO_LARGE, limit=limit())

    return BodyLimit(limit, refuse, allowance=0)


def _length_required(request: HttpRequest, view: Callable[..., Any]) -> HttpResponse:
    if _answers_json(view):
        return json_refusal(Refusal(error_codes.LENGTH_REQUIRED))
    return page_refusal(request, error_codes.PAGE_LENGTH_REQUIRED, status=411)


def limit_of(view: Callable[..., Any]) -> BodyLimit | None:
    """The limit a view declares, or the one every other view has; None: no limit at all
    (DATA_UPLOAD_MAX_MEMORY_SIZE set to None)."""
    declared = getattr(view, "body_limit", None) or getattr(
        getattr(view, "view_class", None), "body_limit", None
    )
    if declared is not None:
        return declared
    if settings.DATA_UPLOAD_MAX_MEMORY_SIZE is None:
        return None
    return _small_body(view)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # the server refuses such a request; Django would read nothing of it


class BodyLimitMiddleware(MiddlewareMixin):
    """Refuse a body over its view's limit before it is read; stop one that passes it."""

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        meta = request.META
        if meta.get("HTTP_TRANSFER_ENCODING") and not meta.get("CONTENT_LENGTH"):
            return _length_required(request, view)
        limit = limit_of(view)
        if limit is None:
            return None
        if request.META.get(PROXY_REFUSED) or _declared_length(request) > limit.body():
            return limit.refuse(request)
        if request.content_type == "multipart/form-data":  # the only body with upload handlers
            request.upload_handlers.insert(0, UploadCap(request, limit.files()))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UploadTooLarge) or request.resolver_match is None:
            return None
        limit = limit_of(request.resolver_match.func)
        return limit.refuse(request) if limit is not None else None
