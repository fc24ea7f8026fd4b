"""One error shape for the whole API: a stable machine code and a message in both languages.

    {"error": {"code": "invalid_parameter", "field": "index",
               "message": {"zh": "...", "en": "..."}}}

Views raise ApiError; DRF's own exceptions (not found, throttled, unsupported media
type...) are rewritten into the same shape by api_exception_handler.
"""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """An API error with a stable code, the field at fault (if any), and zh/en messages."""

    def __init__(
        self,
        code: str,
        zh: str,
        en: str,
        *,
        field: str | None = None,
        status_code: int = status.HTTP_400_BAD_REQUEST,
    ) -> None:
        super().__init__(detail=en, code=code)
        self.status_code = status_code
        self.body = error_body(code, zh, en, field)


def error_body(code: str, zh: str, en: str, field: str | None = None) -> dict:
    """The JSON body of an error."""
    error = {"code": code, "message": {"zh": zh, "en": en}}
    if field:
        error["field"] = field
    return {"error": error}


def error_response(status_code: int, code: str, zh: str, en: str, field: str | None = None):
    """A plain Django JSON error response, for views outside DRF."""
    return JsonResponse(error_body(code, zh, en, field), status=status_code)


# Messages for DRF's own exceptions, by their default code.
_GENERIC = {
    "not_found": ("未找到所请求的内容。", "The requested item was not found."),
    "method_not_allowed": ("不支持此请求方法。", "This HTTP method is not allowed here."),
    "not_acceptable": ("无法以所请求的格式回复。", "Cannot answer in the requested format."),
    "unsupported_media_type": ("不支持此内容类型。", "This content type is not supported."),
    "throttled": ("请求过于频繁，请稍后再试。", "Too many requests; please try again later."),
    "parse_error": ("请求内容无法解析。", "The request body could not be parsed."),
    "not_authenticated": ("需要身份凭证。", "Authentication credentials are required."),
    "authentication_failed": ("身份凭证无效。", "The authentication credentials are invalid."),
    "permission_denied": ("无权执行此操作。", "You are not allowed to do this."),
}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler that answers every error in the shape above."""
    if isinstance(exc, ApiError):
        return Response(exc.body, status=exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    zh, en = _GENERIC.get(code, ("请求无效。", str(getattr(exc, "detail", "Invalid request."))))
    field = None
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        field = next(iter(exc.detail), None)
        code = "invalid_parameter"
        en = f"{field}: {exc.detail[field][0]}" if field else en
    response.data = error_body(code, zh, en, field)
    return response
