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

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from anchoring.digest import stream_digests
from documents.models import Court, IdempotentRequest
from plumbing.errors import ApiError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


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
    resume: Callable[[str], Response] | None = None,
) -> Response:
    """Run handle() unless this key was used before; answer as the first time did.

    A first request that made its record but could not wait for the ledger (an ApiError
    carrying `record_code`) keeps its key: a retry calls resume(code) to answer for that
    same record instead of recording the file twice.
    """
    key = request.headers.get(HEADER)
    if key is None or not hasattr(request.data, "keys"):
        return handle()  # without a key, or with a body the handler refuses anyway
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            "invalid_idempotency_key",
            f"Idempotency-Key 须为 1 到 {MAX_KEY_LENGTH} 个字符。",
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            field=HEADER,
        )
    digest = fingerprint(request)
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(court=court, key=key, fingerprint=digest)
    except IntegrityError:
        first = IdempotentRequest.objects.get(court=court, key=key)
        if first.fingerprint != digest:
            raise ApiError(
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于另一个不同的请求。",
                "This Idempotency-Key was already used for a different request.",
                field=HEADER,
                status_code=422,
            ) from None
        if first.status is None and resume and (first.body or {}).get("record_code"):
            return resume(first.body["record_code"])
        if first.status is None:
            raise ApiError(
                "request_in_progress",
                "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试。",
                "The first request with this Idempotency-Key is still running; retry shortly.",
                field=HEADER,
                status_code=409,
            ) from None
        response = Response(first.body, status=first.status)
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        response = handle()
    except ApiError as exc:
        if getattr(exc, "record_code", None):
            claim.body = {"record_code": exc.record_code}
            claim.save(update_fields=["body"])
        elif exc.status_code >= 500:
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
