"""The witness's HTTP interface: add-checkpoint (C2SP tlog-witness), the latest cosigned
checkpoint of each log, and what it follows (a page and JSON). Thin: witness/service.py
does the work."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from anchoring.note import encode_base64
from plumbing.body_limits import BodyLimit
from plumbing.error_codes import PageMessage
from plumbing.page_limits import rate_limited
from witness import keys, messages, registry, service
from witness.identity import Identity
from witness.models import Log
from witness.protocol import SIZE_CONTENT_TYPE, SizeConflict, WitnessError

_TEXT = "text/plain; charset=utf-8"


def _text(message: PageMessage, status: int, **params: object) -> HttpResponse:
    """A plain-text answer: the Chinese line, then the English one."""
    body = f"{message.zh.format(**params)}\n{message.en.format(**params)}\n"
    response = HttpResponse(body, status=status, content_type=_TEXT)
    response["Cache-Control"] = "no-store"
    return response


def _throttled(request: HttpRequest, retry_after: int) -> HttpResponse:
    """429 for a client over WITNESS_RATE."""
    response = _text(messages.THROTTLED, 429, seconds=retry_after)
    response["Retry-After"] = str(retry_after)
    return response


def _too_large(request: HttpRequest) -> HttpResponse:
    """413 for a body over WITNESS_MAX_BODY_SIZE, before a byte of it is read."""
    return _text(messages.BODY_TOO_LARGE, 413, limit=settings.WITNESS_MAX_BODY_SIZE)


def refusal(exc: WitnessError) -> HttpResponse:
    """The answer to a refused add-checkpoint: the spec's status, and for 409 its body."""
    if isinstance(exc, SizeConflict):
        response = HttpResponse(exc.body(), status=409, content_type=SIZE_CONTENT_TYPE)
        response["Cache-Control"] = "no-store"
        return response
    message = next(m for cls, m in messages.REFUSALS.items() if type(exc) is cls)
    params = {"reason": exc.reason, "retry_after": getattr(exc, "retry_after", 0)}
    response = _text(message, exc.status, **params)
    if isinstance(exc, service.OverQuota):
        response["Retry-After"] = str(exc.retry_after)
    return response


# A route may name another in-process witness (the embedded default's demo members,
# demo/urls.py) with the extra URL argument `identity`; by default it is the deployment's.
IdentityGetter = Callable[[], Identity]


def _identity(getter: IdentityGetter | None = None) -> Identity:
    if getter is not None:
        return getter()
    identity = keys.identity()
    registry.ensure_loaded(identity)
    return identity


def _prefix(request: HttpRequest) -> str:
    """The witness's prefix (its monitoring and submission prefix), from this request."""
    return request.path.rsplit("/", 1)[0] + "/"


@csrf_exempt  # a machine endpoint: no cookie, no session; the log's signature is its proof
@require_POST
@rate_limited("witness", refuse=_throttled)
def add_checkpoint(request: HttpRequest, identity: IdentityGetter | None = None) -> HttpResponse:
    """POST add-checkpoint: the witness's cosignature line(s), or the spec's refusal."""
    if len(request.body) > settings.WITNESS_MAX_BODY_SIZE:
        return _too_large(request)
    try:
        cosigned = service.add_checkpoint(_identity(identity), request.body)
    except WitnessError as exc:
        return refusal(exc)
    response = HttpResponse(cosigned.lines, content_type=_TEXT)
    response["Cache-Control"] = "no-store"
    return response


# The body limit BodyLimitMiddleware applies before the body is read (no form allowance).
add_checkpoint.body_limit = BodyLimit(  # type: ignore[attr-defined]
    lambda: settings.WITNESS_MAX_BODY_SIZE, _too_large, allowance=0
)


@require_safe
@rate_limited("witness", refuse=_throttled)
def checkpoint(
    request: HttpRequest, origin_hash: str, identity: IdentityGetter | None = None
) -> HttpResponse:
    """GET <hash>/checkpoint: the latest checkpoint cosigned for the log, both signatures."""
    note = service.latest_note(_identity(identity), origin_hash)
    if note is None:
        return _text(messages.NEVER_COSIGNED, 404)
    response = HttpResponse(note, content_type=_TEXT)
    response["Cache-Control"] = "no-cache"
    return response


def _describe(log: Log, prefix: str) -> dict[str, object]:
    return {
        "origin": log.origin,
        "origin_hash": log.origin_hash,
        "vkey": log.vkey,
        "qpd": log.qpd,
        "contact": log.contact,
        "from_list": log.from_list,
        "size": log.size,
        "root_hash": encode_base64(bytes(log.root_hash)),
        "cosigned_at": log.cosigned_at.isoformat() if log.cosigned_at else None,
        "checkpoint": f"{prefix}{log.origin_hash}/checkpoint" if log.cosigned_at else None,
    }


@require_safe
@rate_limited("witness", refuse=_throttled)
def logs(request: HttpRequest, identity: IdentityGetter | None = None) -> JsonResponse:
    """GET logs: the witness's name and vkey, and each log it follows with its state."""
    who, prefix = _identity(identity), _prefix(request)
    body = {
        "witness": {"name": who.name, "vkey": who.vkey()},
        "logs": [_describe(log, prefix) for log in service.followed_logs(who)],
    }
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


@require_safe
@rate_limited("pages")
def index(request: HttpRequest, identity: IdentityGetter | None = None) -> HttpResponse:
    """GET the witness's page: who it is, and the logs it follows."""
    who, prefix = _identity(identity), _prefix(request)
    context = {
        "name": who.name,
        "vkey": who.vkey(),
        "logs": [_describe(log, prefix) for log in service.followed_logs(who)],
        "prefix": prefix,
        "submission_url": request.build_absolute_uri(prefix + "add-checkpoint"),
        "demo": identity is not None,
    }
    return render(request, "witness/index.html", context)
