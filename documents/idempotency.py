"""Idempotent court requests: a retry with the same Idempotency-Key gets the first answer.

The first request with a key claims it: a row with no answer yet, held by that request
(`owner`, a random token) until `lease_until`. It runs, and stores its answer; a retry
with the same key and content gets that answer and records nothing, and the same key
with different content is refused. A first request that failed on our side (5xx, a
timeout waiting for the ledger) gives its lease up, so that a retry goes on from where
it stopped.

The rows a keyed request makes (records, service events) carry its claim (`claim`), in
the transaction that makes them, which also checks that the request still holds the
claim (`fence`). So when the process holding a key dies, a retry after the lease takes
the claim over and finds what was made: it answers for those rows as the first request
would have, or, if nothing was committed, runs the request itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from anchoring.digest import stream_digests
from documents import codes
from documents.models import Court, IdempotentRequest
from plumbing import error_codes
from plumbing.errors import ApiError, Refusal

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class LedgerDelayed(ApiError):
    """503 ledger_delayed: the request's records are committed but not yet in the ledger.

    The answer names them (`record_code` for one record, `record_codes` for a batch) so
    that the court reads them back instead of sending them again; a retry with the same
    Idempotency-Key answers for them instead of recording anything twice.
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


class ClaimLost(ApiError):
    """409 request_in_progress: a retry took this request's key over (its lease ran out)."""

    def __init__(self) -> None:
        super().__init__(error_codes.REQUEST_IN_PROGRESS, field=HEADER)


def fence(claims: Iterable[IdempotentRequest | None]) -> None:
    """Inside the transaction that makes a keyed request's rows: raise ClaimLost unless
    every claim is still held by its request.

    The row lock this takes also makes a retry's takeover wait for that transaction,
    so a takeover finds either the committed rows or none (READ COMMITTED re-checks).
    """
    held = [c for c in claims if c is not None]
    if not held:
        return
    mine = IdempotentRequest.objects.filter(pk__in=[c.pk for c in held])
    owners = {c.pk: c.owner for c in held}
    found = dict(mine.select_for_update().values_list("pk", "owner"))
    if any(found.get(pk) != owner for pk, owner in owners.items()):
        raise ClaimLost()


def _lease_end():
    return timezone.now() + timedelta(seconds=settings.COURT_IDEMPOTENCY_LEASE)


def _take_over(first: IdempotentRequest) -> bool:
    """Claim a key whose request holds it no more (its lease ran out): exactly one of
    several concurrent retries succeeds."""
    owner = secrets.token_hex(16)
    taken = IdempotentRequest.objects.filter(
        pk=first.pk, status__isnull=True, lease_until__lte=timezone.now()
    ).update(owner=owner, lease_until=_lease_end())
    first.owner = owner
    return taken == 1


def _answer(claim: IdempotentRequest, status: int, body: Any) -> None:
    """Keep the first answer, unless a retry has taken the key over meanwhile."""
    IdempotentRequest.objects.filter(pk=claim.pk, owner=claim.owner).update(
        status=status, body=body, lease_until=None
    )


def _release(claim: IdempotentRequest) -> None:
    """End the lease now, so that a retry takes over at once: it answers for what this
    request made, or runs it again if it made nothing. With the database down the lease
    runs out by itself."""
    try:
        IdempotentRequest.objects.filter(pk=claim.pk, owner=claim.owner).update(
            lease_until=timezone.now()
        )
    except DatabaseError:
        log.warning("could not release idempotency key %s; its lease will run out", claim.pk)


def run_once(
    request: Request,
    court: Court,
    handle: Callable[[IdempotentRequest | None], Response],
    resume: Callable[[IdempotentRequest], Response | None],
) -> Response:
    """Run handle(claim) unless this key was used before; answer as the first time did.

    `handle` passes the claim (None without a key) to what makes its rows, which stores
    it with them and calls fence(). `resume(claim)` answers for the rows a claim made,
    or returns None when it made none.
    """
    key = request.headers.get(HEADER)
    if key is None or not hasattr(request.data, "keys"):
        return handle(None)  # without a key, or with a body the handler refuses anyway
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(error_codes.INVALID_IDEMPOTENCY_KEY, field=HEADER, limit=MAX_KEY_LENGTH)
    digest = fingerprint(request)
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(
                court=court,
                key=key,
                fingerprint=digest,
                owner=secrets.token_hex(16),
                lease_until=_lease_end(),
            )
    except IntegrityError:
        claim = IdempotentRequest.objects.get(court=court, key=key)
        if claim.fingerprint != digest:
            raise ApiError(error_codes.IDEMPOTENCY_KEY_REUSED, field=HEADER) from None
        if claim.status is not None:
            response = Response(claim.body, status=claim.status)
            response["Idempotent-Replayed"] = "true"
            return response
        if not _take_over(claim):
            raise ApiError(error_codes.REQUEST_IN_PROGRESS, field=HEADER) from None
        answered = _guarded(claim, lambda: resume(claim))
        if answered is not None:
            return answered
    return _guarded(claim, lambda: handle(claim))


def _guarded[R: Response | None](claim: IdempotentRequest, run: Callable[[], R]) -> R:
    """Run the request under its claim and keep its answer (or give the key up)."""
    try:
        response = run()
    except ClaimLost:
        raise
    except Refusal as exc:  # an ApiError, or a refusal by registration or service
        if exc.status_code >= 500:  # LedgerDelayed among them
            _release(claim)
        else:
            _answer(claim, exc.status_code, exc.body)
        raise
    except Exception:
        _release(claim)
        raise
    if response is None:
        return response
    if response.status_code >= 500:
        _release(claim)
    else:
        _answer(claim, response.status_code, response.data)
    return response
