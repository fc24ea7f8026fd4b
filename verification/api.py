"""The public verification API: anonymous, throttled per client, every error bilingual."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anchoring.digest import parse_hex
from documents import codes
from plumbing import body_limits, error_codes
from plumbing.batches import batch_items
from plumbing.errors import ERROR_SCHEMA, ApiError
from plumbing.parsers import JSONParser
from plumbing.throttling import CountingRateThrottle
from verification import intake
from verification.models import Verification
from verification.record_check import face_of, faces_of, ledger_agrees

_ERROR = ERROR_SCHEMA

_STEP = inline_serializer(
    "VerificationStep",
    {
        "name": serializers.CharField(),
        "status": serializers.ChoiceField(["passed", "failed", "inconclusive"]),
        "explanation": inline_serializer(
            "StepExplanation", {"zh": serializers.CharField(), "en": serializers.CharField()}
        ),
        "detail": serializers.DictField(),
    },
    many=True,
)
_RESULT = inline_serializer(
    "VerificationResult",
    {
        "id": serializers.CharField(),
        "status": serializers.ChoiceField(Verification.Status.values),
        "outcome": serializers.ChoiceField(Verification.Outcome.values, allow_null=True),
        "url": serializers.URLField(),
        "sha256": serializers.CharField(allow_null=True),
        "sm3": serializers.CharField(allow_null=True),
        "code": serializers.CharField(allow_null=True),
        "ledger_index": serializers.IntegerField(allow_null=True),
        "tree_size": serializers.IntegerField(allow_null=True),
        "steps": _STEP,
        "record": serializers.DictField(allow_null=True),
        "certificate": inline_serializer(
            "CertificateLinks",
            {
                "number": serializers.CharField(),
                "url": serializers.URLField(),
                "pdf": serializers.URLField(),
                "bundle": serializers.URLField(),
            },
            allow_null=True,
        ),
        "created_at": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


def _digest(value: object, field: str) -> str:
    digest = parse_hex(value)
    if digest is None:
        name = field.rsplit(".", 1)[-1]
        raise ApiError(error_codes.MALFORMED_DIGEST, field=field, name=name)
    return digest.hex()


def _code(value: object, field: str = "code") -> str:
    try:
        return codes.normalize(str(value))
    except codes.CodeError as exc:
        zh, en = error_codes.CODE_PROBLEMS.get(exc.reason, error_codes.CODE_PROBLEM_UNKNOWN)
        raise ApiError(
            error_codes.MALFORMED_CODE, field=field, problem_zh=zh.rstrip("。"), problem_en=en
        ) from None


def _fields_from_json(item: object, prefix: str = "") -> dict:
    """Validated digest/code fields of one JSON request (or batch item)."""
    if not isinstance(item, dict):
        raise ApiError(error_codes.INVALID_ITEM, field=prefix.rstrip(".") or "items", name="items")
    fields: dict = {}
    for name in ("sha256", "sm3"):
        if item.get(name) not in (None, ""):
            fields[name] = _digest(item[name], prefix + name)
    if item.get("code") not in (None, ""):
        fields["code"] = _code(item["code"], prefix + "code")
    if not fields.get("sha256") and not fields.get("sm3"):
        raise ApiError(error_codes.MISSING_DIGEST, field=prefix + "sha256")
    return fields


def _certificate_links(v: Verification, request: Request) -> dict | None:
    """Where the finished verification's certificate, its PDF and bundle are (None until it
    is done). The number is the verification's own: the PDF and the bundle are rendered on
    their first request and kept (certificate.issue), so nothing is looked up here."""
    if v.status != Verification.Status.DONE:
        return None
    number = codes.display(v.certificate_number)

    def link(name: str) -> str:
        return request.build_absolute_uri(reverse(name, args=[number]))

    return {
        "number": number,
        "url": link("certificate-page"),
        "pdf": link("certificate-pdf"),
        "bundle": link("certificate-bundle"),
    }


def result_json(v: Verification, request: Request) -> dict:
    """A verification as the API shows it.

    A verification just checked in this process answers from memory: its steps as saved,
    its certificate's links, the record's timeline only when it can have one (documents.public).
    """
    steps = v.checked_steps if v.checked_steps is not None else v.steps.all()
    record = face_of(v.record, check=v.record_check) if v.record and v.outcome else None
    # The rows changed since this verification: never answered as verified now.
    outcome = v.outcome_now(ledger_agrees(v, record)) or None
    return {
        "id": v.id,
        "status": v.status,
        "outcome": outcome,
        "url": request.build_absolute_uri(reverse("verification-page", args=[v.id])),
        "sha256": v.sha256 or None,
        "sm3": v.sm3 or None,
        "code": codes.display(v.code) if v.code else None,
        "ledger_index": v.ledger_index,
        "tree_size": v.tree_size,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "explanation": {"zh": s.explanation_zh, "en": s.explanation_en},
                "detail": s.detail,
            }
            for s in steps
        ],
        "record": record,
        "certificate": _certificate_links(v, request),
        "created_at": v.created_at,
        "finished_at": v.finished_at,
    }


def _too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.VERIFY_MAX_FILE_SIZE / (1 << 30)
    error = ApiError(error_codes.VERIFY_FILE_TOO_LARGE, field="file", limit=f"{limit:g}")
    return body_limits.json_refusal(error)


class VerificationsView(APIView):
    """Start a verification of a file (multipart) or a digest (JSON)."""

    parser_classes = [MultiPartParser, JSONParser]
    throttle_classes = [CountingRateThrottle]
    throttle_scope = "verifications"
    body_limit = body_limits.BodyLimit(lambda: settings.VERIFY_MAX_FILE_SIZE, _too_large)

    def initialize_request(self, request, *args, **kwargs):
        intake.use_digesting_upload(request)  # before anything reads the body
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="verifications_create",
        tags=["verification"],
        summary="核验文件 · Verify a file",
        description=(
            "以 multipart 上传文件（文件只用于计算摘要，不会被保存），或以 JSON 提交 `sha256` 和/或"
            " `sm3`，可附核验码 `code`。返回 202 和这次核验，`Location` 指向它：摘要通常当场核验完"
            "毕；文件由后台任务核验，请轮询直到 `status` 为 `done`。\n\n"
            "A file as multipart (only hashed, never kept), or JSON with `sha256` and/or `sm3`, "
            "optionally with a record code `code`. Answers 202 with the verification and its "
            "`Location`: a digest is usually checked at once; a file is checked by a job, so poll "
            "until `status` is `done`."
        ),
        auth=[],  # public: no token
        request={
            "multipart/form-data": inline_serializer(
                "VerificationUpload",
                {"file": serializers.FileField(), "code": serializers.CharField(required=False)},
            ),
            "application/json": inline_serializer(
                "VerificationDigest",
                {
                    "sha256": serializers.CharField(required=False),
                    "sm3": serializers.CharField(required=False),
                    "code": serializers.CharField(required=False),
                    "source": serializers.ChoiceField(["digest", "browser"], required=False),
                },
            ),
        },
        responses={202: _RESULT, 400: _ERROR, 413: _ERROR, 415: _ERROR, 429: _ERROR},
    )
    def post(self, request: Request) -> Response:
        data: Any = request.data  # a QueryDict (multipart) or any JSON value
        upload = data.get("file") if hasattr(data, "get") else None
        if upload is not None:
            if not isinstance(upload, intake.DigestedFile):
                raise ApiError(error_codes.INVALID_FILE, field="file")
            if upload.size == 0:
                raise ApiError(error_codes.EMPTY_FILE, field="file")
            fields = upload.verification_fields()
            if data.get("code"):
                fields["code"] = _code(data.get("code"))
        else:
            if request.content_type.startswith("multipart/"):
                raise ApiError(error_codes.MISSING_FILE, field="file")
            fields = _fields_from_json(data)
            # The portal's own page says when it computed the digest in the browser.
            browser = isinstance(data, dict) and data.get("source") == "browser"
            fields["source"] = (
                Verification.Source.BROWSER if browser else Verification.Source.DIGEST
            )
        # A digest is checked in the request: the answer is already done (still 202).
        v = intake.start(inline=upload is None, **fields)
        response = Response(result_json(v, request), status=status.HTTP_202_ACCEPTED)
        response["Location"] = reverse("api-verification", args=[v.id])
        return response


class VerificationView(APIView):
    """The state, outcome and steps of one verification."""

    throttle_scope = "pages"  # polled like the result page

    # 405 for GET /verifications/batch: that path is the batch endpoint, POST only.
    @extend_schema(
        operation_id="verifications_retrieve",
        tags=["verification"],
        summary="核验结果 · Result of a verification",
        description=(
            "一次核验的状态、结论和每个步骤（附中英文说明）；完成后给出核验证书的链接。\n\n"
            "The state, outcome and steps (each explained in Chinese and English) of one "
            "verification; once done, the links to its certificate."
        ),
        auth=[],  # public: no token
        responses={200: _RESULT, 404: _ERROR, 405: _ERROR},
    )
    def get(self, request: Request, verification_id: str) -> Response:
        v = Verification.objects.select_related("record__court").filter(pk=verification_id).first()
        if v is None:
            raise ApiError(error_codes.VERIFICATION_NOT_FOUND)
        return Response(result_json(v, request))


class BatchView(APIView):
    """Verify up to VERIFY_BATCH_MAX digests at once (for lawyers); outcomes per item."""

    parser_classes = [JSONParser]
    throttle_classes = [CountingRateThrottle]
    throttle_scope = "verification_batches"

    @extend_schema(
        operation_id="verifications_batch_create",
        tags=["verification"],
        summary="批量核验 · Verify a batch of digests",
        description=(
            "一次核验至多 VERIFY_BATCH_MAX 个摘要（供律师等使用）。任何一条有误，整个请求都被拒绝，"
            "`field` 指出是哪一条（如 `items.3.sha256`）。返回 202 和批次的地址。\n\n"
            "Up to `VERIFY_BATCH_MAX` digests at once (for lawyers, say). One bad item refuses the "
            "whole request, `field` naming it (such as `items.3.sha256`). Answers 202 with the "
            "batch's URL."
        ),
        auth=[],  # public: no token
        request=inline_serializer(
            "VerificationBatch", {"items": serializers.ListField(child=serializers.DictField())}
        ),
        responses={
            202: inline_serializer(
                "VerificationBatchAccepted",
                {
                    "batch": serializers.CharField(),
                    "url": serializers.URLField(),
                    "items": serializers.ListField(child=serializers.DictField()),
                },
            ),
            400: _ERROR,
            429: _ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        items = batch_items(
            request.data,
            "items",
            settings.VERIFY_BATCH_MAX,
            missing=error_codes.MISSING_ITEMS,
            too_many=error_codes.TOO_MANY_ITEMS,
        )
        validated = [_fields_from_json(item, f"items.{i}.") for i, item in enumerate(items)]
        batch = secrets.token_urlsafe(16)
        made = [
            intake.start(source=Verification.Source.BATCH, batch=batch, batch_position=i, **f)
            for i, f in enumerate(validated)
        ]
        url = reverse("api-verification-batch", args=[batch])
        response = Response(
            {
                "batch": batch,
                "url": request.build_absolute_uri(url),
                "items": [
                    {"id": v.id, "sha256": v.sha256 or None, "sm3": v.sm3 or None} for v in made
                ],
            },
            status=status.HTTP_202_ACCEPTED,
        )
        response["Location"] = url
        return response


class BatchResultView(APIView):
    """Per-item outcomes of a batch, in the order the items were sent."""

    throttle_scope = "pages"  # polled like the result page

    @extend_schema(
        operation_id="verifications_batch_retrieve",
        tags=["verification"],
        summary="批量核验结果 · Results of a batch",
        description=(
            "批次中每一条的状态和结论，按提交的顺序排列。\n\n"
            "Each item's state and outcome, in the order sent."
        ),
        auth=[],  # public: no token
        responses={
            200: inline_serializer(
                "VerificationBatchResult",
                {
                    "batch": serializers.CharField(),
                    "done": serializers.BooleanField(),
                    "items": serializers.ListField(child=serializers.DictField()),
                },
            ),
            404: _ERROR,
        },
    )
    def get(self, request: Request, batch: str) -> Response:
        rows = list(
            Verification.objects.filter(batch=batch)
            .select_related("record__court")
            .order_by("batch_position")
        )
        if not rows:
            raise ApiError(error_codes.BATCH_NOT_FOUND)
        faces = faces_of(rows)
        items = [
            {
                "id": v.id,
                "sha256": v.sha256 or None,
                "sm3": v.sm3 or None,
                "status": v.status,
                # As result_json: a record whose rows changed since is never answered verified.
                "outcome": v.outcome_now(ledger_agrees(v, faces.get(v.record_id))) or None,
                "ledger_index": v.ledger_index,
                "code": codes.display(v.record.code) if v.record else None,
            }
            for v in rows
        ]
        return Response(
            {"batch": batch, "done": all(v.status == "done" for v in rows), "items": items}
        )
