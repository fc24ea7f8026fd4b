"""One error shape for the whole API: a stable machine code and a message in both languages.

    {"error": {"code": "invalid_parameter", "field": "index",
               "message": {"zh": "...", "en": "..."}}}

Views raise ApiError and domain code raises Refusal, each with an entry of the catalogue
(plumbing/error_codes.py), never with texts of their own; DRF's own exceptions (not
found, throttled, unsupported media type, field validation...) are rewritten into the
same shape, their texts also from the catalogue, by api_exception_handler.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler

from plumbing import error_codes
from plumbing.error_codes import (
    DRF_ERRORS,
    INVALID_REQUEST,
    SERVICE_UNAVAILABLE,
    ErrorText,
    field_error,
)

log = logging.getLogger(__name__)

# The error body in the OpenAPI schema, for every API view's error answers.
ERROR_SCHEMA = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(),
                "field": serializers.CharField(required=False),
                "record_code": serializers.CharField(required=False),
                "record_codes": serializers.ListField(
                    child=serializers.CharField(), required=False
                ),
                "message": inline_serializer(
                    "ErrorMessage", {"zh": serializers.CharField(), "en": serializers.CharField()}
                ),
            },
        )
    },
)


class Refusal(Exception):
    """A request refused for a reason the catalogue names (plumbing/error_codes.py).

    Raised by code that knows nothing of HTTP (registration, service events); the API
    answers it as it answers an ApiError. `field` names the part of the request at
    fault; `params` fill the entry's message.
    """

    def __init__(self, error: ErrorText, *, field: str | None = None, **params: object) -> None:
        super().__init__(error.en.format(**params))
        self.error, self.field, self.params = error, field, params
        self.status_code: int = error.status

    @property
    def body(self) -> dict:
        """The JSON body of this error."""
        return error_body(self.error, self.field, self.params)


class ApiError(Refusal, exceptions.APIException):
    """An API error: a catalogue entry, the field at fault (if any), its message's values."""

    def __init__(self, error: ErrorText, *, field: str | None = None, **params: object) -> None:
        Refusal.__init__(self, error, field=field, **params)
        self.detail = exceptions.ErrorDetail(error.en.format(**params), code=error.code)


def error_body(
    error: ErrorText, field: str | None = None, params: Mapping[str, object] | None = None
) -> dict:
    """The JSON body of an error: the entry's code and message filled with `params`."""
    body: dict = {"code": error.code, "message": error.message(**(params or {}))}
    if field:
        body["field"] = field
    return {"error": body}


def _first_error(detail, path: str = "") -> tuple[str, exceptions.ErrorDetail]:
    """The first field (dotted for nested ones) and its first error."""
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list):
        return _first_error(detail[0], path)
    return path, detail


def _validation_body(exc: exceptions.ValidationError) -> dict:
    """A DRF validation error as the catalogue words it.

    DRF's own message is in the request's language (Chinese by default), so neither text
    is taken from it: both come from the catalogue entry of DRF's error code.
    """
    path, detail = _first_error(exc.detail)
    error = field_error(getattr(detail, "code", None) or "invalid")
    # The field's own name: "title" in records.3.title, "parties" in parties.1.
    names = [part for part in path.split(".") if not part.isdigit()] if path else []
    top = names[-1] if names else "request"
    return error_body(error, path or None, {"name": top})


def request_refusal(exc: Exception) -> Refusal | None:
    """Django's refusal of a request body over its limits (DATA_UPLOAD_MAX_MEMORY_SIZE,
    DATA_UPLOAD_MAX_NUMBER_FIELDS, DATA_UPLOAD_MAX_NUMBER_FILES) as the catalogue's entry;
    None for any other exception."""
    if isinstance(exc, RequestDataTooBig):
        return Refusal(error_codes.REQUEST_TOO_LARGE, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, TooManyFieldsSent):
        return Refusal(error_codes.TOO_MANY_FIELDS, limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    if isinstance(exc, TooManyFilesSent):
        return Refusal(error_codes.TOO_MANY_FILES, limit=settings.DATA_UPLOAD_MAX_NUMBER_FILES)
    return None


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler that answers every error in the shape above."""
    refusal = exc if isinstance(exc, Refusal) else request_refusal(exc)
    if refusal is not None:
        return Response(refusal.body, status=refusal.status_code)
    if isinstance(exc, (OperationalError, InterfaceError)):  # the database is down or restarting
        log.warning("database unavailable: %s", exc)
        body = error_body(SERVICE_UNAVAILABLE)
        return Response(body, status=SERVICE_UNAVAILABLE.status, headers={"Retry-After": "5"})
    # Django's own two, which DRF answers as its NotFound and PermissionDenied.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc)
        return response
    code = getattr(exc, "default_code", "error")
    error = DRF_ERRORS.get(code) or ErrorText(code, INVALID_REQUEST.zh, INVALID_REQUEST.en)
    response.data = error_body(error)
    return response
