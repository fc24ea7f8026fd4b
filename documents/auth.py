"""Court credentials for the API: `Authorization: Token <token>`, hashed, revocable, logged.

Each process keeps a token it has looked up for COURT_TOKEN_CACHE_SECONDS, so a court's
system sending many requests costs one token query per period instead of one per request
(with the select_related court, 18% of a court request's Python time before). The price:
a token revoked in *another* process (another gunicorn worker, the admin on another
machine) keeps working there for at most that long. The process that revokes it forgets
it at once (forget(), connected to CourtToken's post_save).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from documents.models import Court, CourtToken, token_digest
from plumbing.throttling import CountingRateThrottle

LAST_USED_PRECISION = timedelta(minutes=1)
# The rate scope of a client's requests with an unknown or revoked token
# (COURT_AUTH_FAILURE_RATE): over it, its next tokens are not even looked up.
AUTH_FAILURES = "court_auth_failures"


@dataclass(frozen=True)
class CourtSystem:
    """The caller behind a court token: what `request.user` is on the court API."""

    court: Court
    token: CourtToken
    is_authenticated: bool = True


class _TokenCache:
    """Active tokens this process looked up, by digest, each until its expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, CourtToken]] = {}
        # Held while a token is read from the database, by a stripe of its digest: when an
        # entry expires under load, one request reads it again while the others wait for
        # that, instead of hundreds each sending the same query (a quarter of all requests
        # did, measured with gevent workers). Striped, so any number of digests is bounded.
        self._loading = [threading.Lock() for _ in range(64)]

    def get(self, digest: str) -> CourtToken | None:
        with self._lock:
            found = self._tokens.get(digest)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, digest: str, token: CourtToken, seconds: float) -> None:
        with self._lock:
            if len(self._tokens) > 10_000:  # tokens are few; this only bounds a flood
                now = time.monotonic()
                self._tokens = {d: v for d, v in self._tokens.items() if v[0] >= now}
            self._tokens[digest] = (time.monotonic() + seconds, token)

    def loading(self, digest: str) -> threading.Lock:
        """The lock to hold while this digest's token is read from the database."""
        return self._loading[int(digest[:8], 16) % len(self._loading)]

    def forget(self, digest: str | None = None) -> None:
        with self._lock:
            if digest is None:
                self._tokens.clear()
            else:
                self._tokens.pop(digest, None)


_cache = _TokenCache()


def forget(sender=None, instance: CourtToken | None = None, **kwargs) -> None:
    """Drop a token (or all, without one) from this process's cache: after a revocation.

    Connected to CourtToken's post_save, so revoking in the admin or with revoke() takes
    effect at once in the process that did it.
    """
    _cache.forget(instance.digest if instance is not None else None)


def _look_up(digest: str) -> CourtToken | None:
    token = _cache.get(digest)
    if token is not None:
        return token
    with _cache.loading(digest):
        token = _cache.get(digest)  # read by the request this one waited for
        if token is not None:
            return token
        token = CourtToken.objects.select_related("court").filter(digest=digest).first()
        seconds = settings.COURT_TOKEN_CACHE_SECONDS
        if token is not None and token.active and seconds > 0:
            _cache.put(digest, token, seconds)
        return token


def _look_up_guarded(request, digest: str) -> CourtToken | None:
    """A token this process does not hold, read unless its client sent too many unknown or
    revoked ones lately (429 then, with no query); a failure counts against the client."""
    failures = CountingRateThrottle()
    if failures.over(request, AUTH_FAILURES):
        raise exceptions.Throttled(failures.wait())
    token = _look_up(digest)
    if token is None or not token.active:
        failures.allow(request, AUTH_FAILURES)
    return token


class CourtTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate a court's system by its token; a revoked token is refused (401)."""

    keyword = "Token"

    def authenticate(self, request) -> tuple[CourtSystem, CourtToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        digest = token_digest(header[1])
        token = _cache.get(digest) or _look_up_guarded(request, digest)
        if token is None or not token.active:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        now = timezone.now()
        # At most once a minute: every request of a court would otherwise queue on this row.
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            token.last_used_at = now  # the cached copy too, so other threads skip it
            CourtToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return CourtSystem(token.court, token), token

    def authenticate_header(self, request) -> str:
        return self.keyword
