"""The court API: record files, record service events, read records and their QR codes.

Every view here is reached only with a court's token, and sees only that court's records:
another court's record answers 404, exactly like a record that does not exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import cast

from django.conf import settings
from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from anchoring.sequencer import SubmissionAltered, SubmissionTimeout
from documents import audit, codes, ledger, metrics, qr, registration, service
from documents.auth import CourtSystem, CourtTokenAuthentication
from documents.idempotency import LedgerDelayed, run_once
from documents.models import Court, IdempotentRequest, Record, ServiceEvent
from documents.serializers import (
    EventInput,
    RecordBatchItem,
    RecordInput,
    event_json,
    record_json,
)
from plumbing import body_limits, clients, error_codes
from plumbing.batches import batch_items
from plumbing.errors import ERROR_SCHEMA, ApiError, Refusal
from plumbing.parsers import JSONParser

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    description="A retry with the same key gets the first answer and records nothing twice.",
)
# PostgreSQL's OFFSET and LIMIT are bigints: the list's last page keeps both below this.
_BIGINT_MAX = 2**63 - 1
WRITE_ERRORS = {
    400: ERROR_SCHEMA,
    401: ERROR_SCHEMA,
    409: ERROR_SCHEMA,  # request_in_progress
    413: ERROR_SCHEMA,  # request_too_large
    422: ERROR_SCHEMA,  # idempotency_key_reused
    503: ERROR_SCHEMA,  # ledger_delayed
}


@contextlib.contextmanager
def _waiting_for_ledger(*records: Record, batch: bool = False) -> Iterator[None]:
    """Around a wait for the ledger entries of committed records: a timeout or a database
    error answers 503 ledger_delayed (naming the records), an altered entry 500
    ledger_entry_altered (no receipt is given; an alarm is already raised)."""
    try:
        yield
    except (SubmissionTimeout, DatabaseError):
        raise LedgerDelayed([r.code for r in records], batch=batch) from None
    except SubmissionAltered:
        code = codes.display(records[0].code)
        raise ApiError(error_codes.LEDGER_ENTRY_ALTERED, code=code) from None


def _file_too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.RECORD_MAX_FILE_SIZE // (1 << 20)
    error = Refusal(error_codes.RECORD_FILE_TOO_LARGE, field="file", limit=limit)
    return body_limits.json_refusal(error)


class CourtAPIView(APIView):
    """Base of the court API: token authentication, and every use logged."""

    authentication_classes = [CourtTokenAuthentication]
    permission_classes = [IsAuthenticated]
    # Any body over it is refused before it is read, the token not yet looked at.
    body_limit = body_limits.BodyLimit(lambda: settings.RECORD_MAX_FILE_SIZE, _file_too_large)

    @property
    def court(self) -> Court:
        # The user CourtTokenAuthentication gives; DRF's stubs know only Django's users.
        return cast(CourtSystem, self.request.user).court

    def own_record(self, code: str) -> Record:
        try:
            canonical = codes.normalize(code)
        except codes.CodeError:
            canonical = None
        record = Record.objects.filter(court=self.court, code=canonical).first()
        if record is None:
            raise ApiError(error_codes.RECORD_NOT_FOUND)
        return record

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        token = getattr(request, "auth", None)
        if token is not None:  # buffered and written in bulk (documents/audit.py)
            audit.log_use(
                token,
                request.method,
                request.path,
                response.status_code,
                clients.address(request),
            )
        return response


class RecordsView(CourtAPIView):
    """Record a file (POST) or list the court's own records (GET)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="records_create",
        tags=["courts"],
        summary="登记文件 · Record a file",
        description=(
            "以 multipart 上传文件（PDF 可加盖核验码），或在法院自行保存文件时以 JSON 提交 "
            "`sha256` 和 `sm3`，连同类别、标题、案号和当事人。文件写入账本后返回 201：核验码、二维"
            "码链接和账本回执。带同一 `Idempotency-Key` 重试不会重复登记。\n\n"
            "A file as multipart (a PDF may be stamped with its code), or JSON with `sha256` and "
            "`sm3` when the court keeps the file, with its category, title, case number and "
            "parties. Answers 201 once the ledger has integrated it: the record code, QR code "
            "links and the ledger receipt. A retry with the same `Idempotency-Key` records nothing "
            "twice."
        ),
        request=RecordInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: dict, **WRITE_ERRORS},
    )
    @metrics.timed_registration("record")
    def post(self, request: Request) -> Response:
        return run_once(
            request,
            self.court,
            lambda claim: self._create(request, claim),
            lambda claim: self._resume(request, claim),
        )

    def _resume(self, request: Request, claim: IdempotentRequest) -> Response | None:
        """A retry of a request whose record exists: answer for it once it is in the ledger."""
        record = Record.objects.filter(court=self.court, claim=claim).first()
        if record is None:
            return None
        with _waiting_for_ledger(record):
            receipt = ledger.await_ledger(record)
        return Response(record_json(record, request, receipt), status=status.HTTP_201_CREATED)

    def _create(self, request: Request, claim: IdempotentRequest | None) -> Response:
        data = RecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        upload = fields.pop("file", None)
        new = registration.NewRecord(
            court=self.court,
            file=upload,
            filename=getattr(upload, "name", "") or "",
            media_type=getattr(upload, "content_type", "") or "",
            claim=claim,
            **fields,
        )
        record = registration.register(new)  # a RegistrationError answers as an ApiError
        # The record is committed: from here on a failure must answer with its code.
        with _waiting_for_ledger(record):
            receipt = ledger.await_ledger(record)
        body = record_json(record, request, receipt, events=[])  # none yet
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        # The list and one record are both GETs of records: named apart for the schema.
        operation_id="records_list",
        tags=["courts"],
        summary="本院的记录列表 · List the court's records",
        description=(
            "本院的记录，最新在前，每页 COURT_API_PAGE_SIZE 条；可按类别、案号和登记时间筛选。\n\n"
            "The court's own records, newest first, `COURT_API_PAGE_SIZE` to a page; filtered by "
            "category, case number and time recorded."
        ),
        parameters=[
            OpenApiParameter("category", str),
            OpenApiParameter("case_number", str),
            OpenApiParameter("recorded_after", str, description="ISO 8601"),
            OpenApiParameter("recorded_before", str, description="ISO 8601"),
            OpenApiParameter("page", int),
        ],
        responses={200: dict, 400: ERROR_SCHEMA, 401: ERROR_SCHEMA},
    )
    def get(self, request: Request) -> Response:
        records = self._filtered(request)
        size = settings.COURT_API_PAGE_SIZE
        page = _page(request.query_params.get("page", "1"), size)
        start = (page - 1) * size
        rows = list(records[start : start + size + 1])
        return Response(
            {
                "page": page,
                "has_next": len(rows) > size,
                "results": [record_json(r, request) for r in rows[:size]],
            }
        )

    def _filtered(self, request: Request) -> QuerySet[Record]:
        records = Record.objects.filter(court=self.court).select_related("court")
        params = request.query_params
        if "category" in params:
            if params["category"] not in Record.Category.values:
                raise ApiError(error_codes.UNKNOWN_CATEGORY, field="category")
            records = records.filter(category=params["category"])
        if params.get("case_number"):
            records = records.filter(case_number=params["case_number"])
        for name, lookup in (("recorded_after", "gte"), ("recorded_before", "lt")):
            if name in params:
                moment = _moment(str(params[name]), name)
                records = records.filter(**{f"recorded_at__{lookup}": moment})
        return records


def _page(raw: str, size: int) -> int:
    """The page number asked for: digits, from 1 to the last page a query can reach."""
    high = _BIGINT_MAX // size - 1
    # ASCII digits only: int() also reads other scripts' digits, and refuses long ones.
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(high)) and 1 <= int(raw) <= high:
        return int(raw)
    raise ApiError(error_codes.INVALID_PAGE, field="page", high=high)


def _moment(value: str, name: str) -> datetime:
    """The date-time parameter `name` in UTC (without an offset, in TIME_ZONE), or a 400:
    a date that does not exist, or one beyond the years a datetime holds, is refused."""
    try:
        moment = parse_datetime(value)
        if moment is not None:
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    raise ApiError(error_codes.INVALID_DATETIME, field=name, name=name)


def _batch_item(item, position: int) -> dict:
    """One item of a batch, validated by the single endpoint's rules; `field` names it
    `records.<n>.<name>`."""
    prefix = f"records.{position}"
    if not isinstance(item, dict):
        raise ApiError(error_codes.INVALID_ITEM, field=prefix, name="records")
    data = RecordInput(data=item)
    try:
        data.is_valid(raise_exception=True)
    except Refusal as exc:
        exc.field = f"{prefix}.{exc.field}" if exc.field else prefix
        raise
    except ValidationError as exc:
        raise ValidationError({prefix: exc.detail}) from None
    return data.validated_data


class RecordBatchView(CourtAPIView):
    """Record many files by their digests in one request: all or nothing."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="records_batch_create",
        tags=["courts"],
        summary="按摘要批量登记 · Record many digests at once",
        description=(
            "一次请求以 JSON 登记至多 COURT_BATCH_MAX 条记录（只含摘要）。全部成功或全部不写入：任"
            "何一条有误，整个请求都被拒绝，`field` 指出是哪一条（如 `records.3.sha256`）。\n\n"
            "Up to `COURT_BATCH_MAX` records by their digests (JSON) in one request, all or "
            "nothing: one bad item refuses the whole request, `field` naming it (such as "
            "`records.3.sha256`)."
        ),
        request=inline_serializer(
            "RecordBatch", {"records": serializers.ListField(child=RecordBatchItem())}
        ),
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: inline_serializer(
                "RecordBatchAnswer",
                {"records": serializers.ListField(child=serializers.DictField())},
            ),
            **WRITE_ERRORS,
        },
    )
    @metrics.timed_registration("batch")
    def post(self, request: Request) -> Response:
        return run_once(
            request,
            self.court,
            lambda claim: self._create(request, claim),
            lambda claim: self._resume(request, claim),
        )

    def _create(self, request: Request, claim: IdempotentRequest | None) -> Response:
        items = batch_items(
            request.data,
            "records",
            settings.COURT_BATCH_MAX,
            missing=error_codes.MISSING_RECORDS,
            too_many=error_codes.TOO_MANY_RECORDS,
        )
        news = [
            registration.NewRecord(court=self.court, claim=claim, **_batch_item(item, i))
            for i, item in enumerate(items)
        ]
        records = registration.register_many(news)
        return self._answer(request, records)

    def _resume(self, request: Request, claim: IdempotentRequest) -> Response | None:
        """A retry of a batch whose records exist: answer for them once they are in the
        ledger, in the order sent (their ids ascend in that order)."""
        made = Record.objects.filter(court=self.court, claim=claim).select_related("court")
        records = list(made.order_by("pk"))
        return self._answer(request, records) if records else None

    def _answer(self, request: Request, records: list[Record]) -> Response:
        # The records are committed: from here on a failure must answer with their codes.
        with _waiting_for_ledger(*records, batch=True):
            receipts = ledger.await_ledger_many(records)
        body = [
            record_json(r, request, receipt, events=[])  # none yet
            for r, receipt in zip(records, receipts, strict=True)
        ]
        return Response({"records": body}, status=status.HTTP_201_CREATED)


class RecordView(CourtAPIView):
    """One of the court's records, with its ledger proof and service timeline."""

    # 405 for GET /records/batch (the batch endpoint, POST only); 503 ledger_damaged
    # when the inclusion proof needs a tile the database lost.
    @extend_schema(
        operation_id="records_retrieve",
        tags=["courts"],
        summary="读取一条记录 · Read a record",
        description=(
            "本院的一条记录，附针对最新检查点的包含证明和送达时间线。其他法院的记录与不存在的记录一"
            "样返回 404。\n\n"
            "One of the court's records, with a fresh inclusion proof against the newest "
            "checkpoint and its service timeline. Another court's record answers 404, as a missing "
            "one does."
        ),
        responses={
            200: dict,
            401: ERROR_SCHEMA,
            404: ERROR_SCHEMA,
            405: ERROR_SCHEMA,
            503: ERROR_SCHEMA,
        },
    )
    def get(self, request: Request, code: str) -> Response:
        return Response(record_json(self.own_record(code), request))


class EventsView(CourtAPIView):
    """Record a service event (issued, sent) on one of the court's litigation documents."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="records_events_create",
        tags=["courts"],
        summary="记录送达事件 · Record a service event",
        description=(
            "在本院的诉讼文书上记录 `issued`（签发）或 `sent`（送达，附渠道和受送达人）；`sent` 的"
            "回答附有受送达人专属的送达链接。\n\n"
            "Records `issued` or `sent` (with its channel and addressee) on one of the court's "
            "litigation documents; the answer to `sent` carries the addressee's personal service "
            "link."
        ),
        request=EventInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: dict, 404: ERROR_SCHEMA, **WRITE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        record = self.own_record(code)
        return run_once(
            request,
            self.court,
            lambda claim: self._create(request, record, claim),
            lambda claim: self._resume(record, claim),
        )

    def _resume(self, record: Record, claim: IdempotentRequest) -> Response | None:
        """A retry of a request whose event exists: answer for it once it is in the ledger."""
        event = ServiceEvent.objects.filter(record=record, claim=claim).first()
        if event is None:
            return None
        with _waiting_for_ledger(record):
            receipt = ledger.await_ledger(event)
        return Response(self._body(event, receipt), status=status.HTTP_201_CREATED)

    @staticmethod
    def _body(event: ServiceEvent, receipt) -> dict:
        body = event_json(event, receipt)
        if event.addressee is not None:
            body["service_link"] = service.service_link(event.addressee)
        return body

    def _create(
        self, request: Request, record: Record, claim: IdempotentRequest | None
    ) -> Response:
        data = EventInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if fields["event"] not in service.COURT_EVENTS:
            raise ApiError(error_codes.PORTAL_ONLY, field="event")
        event = service.record_event(  # a RegistrationError answers as an ApiError
            record,
            fields["event"],
            channel=fields.get("channel", ""),
            addressee_name=fields.get("addressee", ""),
            contact=fields.get("contact", ""),
            details=fields.get("details"),
            occurred_at=fields.get("occurred_at"),
            claim=claim,
        )
        with _waiting_for_ledger(record):
            receipt = ledger.await_ledger(event)
        return Response(self._body(event, receipt), status=status.HTTP_201_CREATED)


class _QRSchema(AutoSchema):
    """Names the QR view's two paths' operations apart: records_qr_png and records_qr_svg."""

    def get_operation_id(self) -> str:
        return "records_qr_" + self.path.rsplit(".", 1)[-1]


class QRView(CourtAPIView):
    """The record's QR code, PNG or SVG, to print on the document."""

    schema = _QRSchema()

    @extend_schema(
        tags=["courts"],
        summary="记录的二维码 · The record's QR code",
        description=(
            "指向记录核验页面的二维码，PNG 或 SVG，用于印在文书上。\n\n"
            "The QR code of the record's verification page, PNG or SVG, to print on the document."
        ),
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/svg+xml"): OpenApiTypes.BINARY,
            401: ERROR_SCHEMA,
            404: ERROR_SCHEMA,
        },
    )
    def get(self, request: Request, code: str, fmt: str) -> HttpResponse:
        url = registration.verification_url(self.own_record(code).code)
        level = settings.QR_ERROR_CORRECTION
        if fmt == "png":
            return HttpResponse(qr.png(url, level), content_type="image/png")
        return HttpResponse(qr.svg(url, level), content_type="image/svg+xml")


class FileView(CourtAPIView):
    """The file the portal keeps for a record: the stamped PDF, to be served."""

    @extend_schema(
        operation_id="records_file",
        tags=["courts"],
        summary="平台保存的文件 · The file the portal keeps",
        description=(
            "平台为该记录保存的文件（加盖核验码的 PDF）；未保存文件时返回 404 `no_file`。\n\n"
            "The file the portal keeps for the record (the stamped PDF); 404 `no_file` when it "
            "keeps none."
        ),
        responses={(200, "*/*"): OpenApiTypes.BINARY, 401: ERROR_SCHEMA, 404: ERROR_SCHEMA},
    )
    def get(self, request: Request, code: str) -> FileResponse:
        record = self.own_record(code)
        if not record.file:
            raise ApiError(error_codes.NO_FILE)
        return FileResponse(
            record.file.open("rb"),
            as_attachment=True,
            filename=record.download_name(),
            content_type=record.media_type or "application/octet-stream",
        )
