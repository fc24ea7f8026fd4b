"""One error shape for the whole API: a stable machine code and a message in both languages.

    {"error": {"code": "invalid_parameter", "field": "index",
               "message": {"zh": "...", "en": "..."}}}

Views raise ApiError; DRF's own exceptions (not found, throttled, unsupported media
type...) are rewritten into the same shape by api_exception_handler.
"""

from __future__ import annotations

from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

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


# Chinese messages for field validation errors, by DRF's error code.
_FIELD_ZH = {
    "required": "缺少必填字段 {field}。",
    "blank": "字段 {field} 不能为空。",
    "null": "字段 {field} 不能为空。",
    "invalid_choice": "字段 {field} 的取值无效。",
    "max_length": "字段 {field} 过长。",
    "max_string_length": "字段 {field} 过长。",
    "too_long": "字段 {field} 过长。",
    "empty": "字段 {field} 为空。",
    "invalid": "字段 {field} 格式无效。",
    "not_a_list": "字段 {field} 应为列表。",
    "no_name": "上传的文件 {field} 没有文件名。",
}
# DRF's codes renamed where the API documents a clearer one.
_FIELD_CODES = {"max_length": "too_long", "max_string_length": "too_long", "blank": "required"}


def _first_error(detail, path: str = "") -> tuple[str, exceptions.ErrorDetail]:
    """The first field (dotted for nested ones) and its first error."""
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list):
        return _first_error(detail[0], path)
    return path, detail


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
    if isinstance(exc, exceptions.ValidationError):
        field, detail = _first_error(exc.detail)
        drf_code = getattr(detail, "code", "invalid")
        code = _FIELD_CODES.get(drf_code, drf_code)
        # The field's own name: "title" in records.3.title, "parties" in parties.1.
        names = [part for part in field.split(".") if not part.isdigit()] if field else []
        top = names[-1] if names else "request"
        zh = _FIELD_ZH.get(drf_code, "字段 {field} 无效。").format(field=top)
        en = f"{field}: {detail}" if field and field != "non_field_errors" else str(detail)
    response.data = error_body(code, zh, en, field)
    return response
