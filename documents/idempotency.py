"""Idempotent court requests: a retry with the same Idempotency-Key gets the first answer.

The first request with a key claims it (a row with no answer yet), runs, and stores its
answer. A retry with the same key and the same content gets that answer and records
nothing; the same key with different content is refused. A first request that failed on
our side (5xx) releases its key, so the retry really runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from anchoring.digest import stream_digests
from documents import codes
from documents.models import Court, IdempotentRequest
from plumbing import error_codes
from plumbing.errors import ApiError, Refusal

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class LedgerDelayed(ApiError):
    """503 ledger_delayed: the request's records are committed but not yet in the ledger.

    The answer names them (`record_code` for one record, `record_codes` for a batch) so
    that the court reads them back instead of sending them again; a retry with the same
    Idempotency-Key resumes them (`resume_with`) instead of recording anything twice.
    """

    def __init__(self, record_codes: list[str], *, batch: bool = False) -> None:
        self.record_codes, self.batch = list(record_codes), batch
        shown = [codes.display(code) for code in record_codes]
        if batch:
            super().__init__(
                error_codes.LEDGER_DELAYED_BATCH,
                code=shown[0],
                count=len(shown),
                more=len(shown) - 1,
            )
        else:
            super().__init__(error_codes.LEDGER_DELAYED, code=shown[0])

    @property
    def body(self) -> dict:
        body = super().body
        shown = [codes.display(code) for code in self.record_codes]
        if self.batch:
            body["error"]["record_codes"] = shown
        else:
            body["error"]["record_code"] = shown[0]
        return body

    @property
    def resume_with(self) -> str | list[str]:
        """What resume() is given on a retry: the record's code, or the batch's codes."""
        return self.record_codes if self.batch else self.record_codes[0]


def fingerprint(request: Request) -> str:
    """A digest of what the request asks for: path, fields and the files' contents."""
    fields, files = {}, {}
    for name in sorted(request.data):
        values = request.data.getlist(name) if hasattr(request.data, "getlist") else None
        value = values if values is not None and len(values) != 1 else request.data[name]
        if hasattr(value, "read"):
            files[name] = stream_digests(value)[0].hex()
            value.seek(0)
        else:
            fields[name] = value
    canonical = json.dumps(
        [request.method, request.path, fields, files], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    request: Request,
    court: Court,
    handle: Callable[[], Response],
    resume: Callable[[Any], Response] | None = None,
) -> Response:
    """Run handle() unless this key was used before; answer as the first time did.

    A first request that made its records but could not wait for the ledger (LedgerDelayed)
    keeps its key: a retry calls resume() with the error's `resume_with` (a record's code,
    or a batch's list of codes) to answer for those same records instead of recording the
    files twice.
    """
    key = request.headers.get(HEADER)
    if key is None or not hasattr(request.data, "keys"):
        return handle()  # without a key, or with a body the handler refuses anyway
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(error_codes.INVALID_IDEMPOTENCY_KEY, field=HEADER, limit=MAX_KEY_LENGTH)
    digest = fingerprint(request)
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(court=court, key=key, fingerprint=digest)
    except IntegrityError:
        first = IdempotentRequest.objects.get(court=court, key=key)
        if first.fingerprint != digest:
            raise ApiError(error_codes.IDEMPOTENCY_KEY_REUSED, field=HEADER) from None
        resume_with = (first.body or {}).get("record_code")  # kept by a LedgerDelayed
        if first.status is None and resume and resume_with:
            return resume(resume_with)
        if first.status is None:
            raise ApiError(error_codes.REQUEST_IN_PROGRESS, field=HEADER) from None
        response = Response(first.body, status=first.status)
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        response = handle()
    except LedgerDelayed as exc:
        claim.body = {"record_code": exc.resume_with}
        claim.save(update_fields=["body"])
        raise
    except Refusal as exc:  # an ApiError, or a refusal by registration or service
        if exc.status_code >= 500:
            claim.delete()
        else:
            claim.status, claim.body = exc.status_code, exc.body
            claim.save(update_fields=["status", "body"])
        raise
    except Exception:
        claim.delete()
        raise
    if response.status_code >= 500:
        claim.delete()
    else:
        claim.status, claim.body = response.status_code, response.data
        claim.save(update_fields=["status", "body"])
    return response
