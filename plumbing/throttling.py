"""Per-client rate limits counted with one Redis round trip per request.

DRF's ScopedRateThrottle keeps each client's history (a pickled list of request times)
in the cache: a GET and a SET of that list on every request. `CountingRateThrottle`
keeps DRF's interface and settings (`throttle_scope`, `DEFAULT_THROTTLE_RATES`, i.e.
VERIFY_RATE and VERIFY_BATCH_RATE; over the limit DRF answers 429 `throttled` with
`Retry-After`) but counts in integer counters, one per client and window.

Window semantics (a sliding-window counter): time is cut into fixed windows of the
rate's period (a minute for `120/minute`), each with its own counter. A request is
allowed when the counter of the current window plus the previous window's counter,
weighted by the share of the previous window still inside the last period, stays within
the limit:

    previous * (1 - elapsed / period) + current <= limit

It is what a sliding log would count if the previous window's requests were spread
evenly over it: never more than the limit in any period when they were, and at most
about twice it (one period's limit on each side of a window boundary) in the worst case,
against exactly the limit for DRF's history. A refused request is not counted, as in
DRF. Retry-After is the time until the estimate lets one more request through.

On Redis (Django's RedisCache) a request is one pipeline: INCR the current window's
counter, set its expiry (two periods, so it serves as the next window's previous one),
GET the previous window's counter; a refused request then gives its count back (DECR).
Other caches (the tests' local memory) use `add` and `incr`. Nothing is written to the
database.

A client is counted by its address as the trusted proxies report it
(`plumbing.clients.rate_key`, an IPv6 client by its /64), never by DRF's own reading of
X-Forwarded-For, and by that address whether or not the request is authenticated. Pages
count with the same throttle through `allow(request, scope)` (plumbing/page_limits.py).
`over(request, scope)` reads the counters without counting: a limit on failures (court
tokens that are unknown or revoked) is checked before the work that may fail, and
counted with `allow` only when it did.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from django.core.cache.backends.redis import RedisCache
from django.utils.connection import ConnectionProxy
from prometheus_client import Counter
from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle

from plumbing import clients

log = logging.getLogger(__name__)

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()

# A counter store that cannot be reached lets requests through: the portal stays up while
# Redis restarts, and the proxy's own per-address limits still hold (docs/operations.md).
_UNREACHABLE = (RedisError, OSError)
uncounted = Counter(
    "portal_rate_limit_uncounted_total",
    "Requests let through without counting because the rate limits' store was unreachable",
    ["scope"],
)


def _backend(cache):
    """The cache backend behind DRF's `default_cache` (a proxy to this thread's backend)."""
    if isinstance(cache, ConnectionProxy):
        return cache._connections[cache._alias]
    return cache


def _redis_client(cache: RedisCache):
    """One redis-py client per Redis server and process (Django builds one per call).

    Django keeps a backend per thread, each with its own pool; the counters use the
    first one's client (and pool) in every thread: redis-py clients are thread-safe.
    """
    # RedisCache.__init__ sets _servers; django-stubs leave it out.
    key = tuple(cache._servers)  # type: ignore[attr-defined]
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = cache._cache.get_client(None, write=True)
                _clients[key] = client
    return client


class CountingRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle counted with a sliding-window counter (see the module)."""

    cache_format = "throttle_%(scope)s_%(ident)s"
    num_requests: int
    duration: int
    elapsed: float
    current: int
    previous: int

    def allow_request(self, request, view) -> bool:
        # As ScopedRateThrottle: the rate of the view's scope, read per request.
        scope = getattr(view, self.scope_attr, None)
        return not scope or self.allow(request, scope)

    def get_ident(self, request) -> str:
        return clients.rate_key(request)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow(self, request, scope: str) -> bool:
        """Count a request of `scope` for its client: False, and not counted, when over the
        scope's rate; `wait()` then says for how long."""
        keys = self._windows(request, scope)
        if keys is None:
            return True
        current_key, previous_key = keys
        try:
            self.current, self.previous = self._count(current_key, previous_key)
            if self._within(self.current):
                return True
            self._uncount(current_key)
        except _UNREACHABLE as exc:
            return self._unreachable(scope, exc)
        self.current -= 1  # what the window holds without this refused request
        return False

    def over(self, request, scope: str) -> bool:
        """Whether one more request of `scope` from this client would be refused, counting
        nothing (for counts of failures, checked before the work that may fail)."""
        keys = self._windows(request, scope)
        if keys is None:
            return False
        try:
            self.current, self.previous = self._peek(*keys)
        except _UNREACHABLE as exc:
            return not self._unreachable(scope, exc)
        return not self._within(self.current + 1)

    def _unreachable(self, scope: str, exc: Exception) -> bool:
        """Let the request through, uncounted, and say so (the log and a metric)."""
        uncounted.labels(scope).inc()
        log.warning("rate limit %s not counted, its store is unreachable: %s", scope, exc)
        return True

    def _windows(self, request, scope: str) -> tuple[str, str] | None:
        """The counters of this client's current and previous window (None: no rate)."""
        self.scope = scope
        self.rate = self.get_rate()
        num_requests, duration = self.parse_rate(self.rate)
        if num_requests is None or duration is None:  # no rate for the scope
            return None
        self.num_requests, self.duration = num_requests, duration
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.elapsed = self.now - window * self.duration
        return f"{self.key}_{window}", f"{self.key}_{window - 1}"

    def _within(self, current: int) -> bool:
        weight = 1 - self.elapsed / self.duration
        return self.previous * weight + current <= self.num_requests

    def _count(self, current_key: str, previous_key: str) -> tuple[int, int]:
        cache = _backend(self.cache)
        if isinstance(cache, RedisCache):
            current_key = cache.make_and_validate_key(current_key)
            previous_key = cache.make_and_validate_key(previous_key)
            pipe = _redis_client(cache).pipeline(transaction=False)
            pipe.incr(current_key)
            pipe.expire(current_key, 2 * self.duration, nx=True)
            pipe.get(previous_key)
            current, _, previous = pipe.execute()
            return int(current), int(previous or 0)
        cache.add(current_key, 0, 2 * self.duration)
        try:
            current = cache.incr(current_key)
        except ValueError:  # expired between add and incr
            cache.add(current_key, 1, 2 * self.duration)
            current = 1
        return current, int(cache.get(previous_key) or 0)

    def _peek(self, current_key: str, previous_key: str) -> tuple[int, int]:
        cache = _backend(self.cache)
        if isinstance(cache, RedisCache):
            keys = [cache.make_and_validate_key(k) for k in (current_key, previous_key)]
            current, previous = _redis_client(cache).mget(keys)
            return int(current or 0), int(previous or 0)
        found = cache.get_many([current_key, previous_key])
        return int(found.get(current_key) or 0), int(found.get(previous_key) or 0)

    def _uncount(self, current_key: str) -> None:
        cache = _backend(self.cache)
        if isinstance(cache, RedisCache):
            _redis_client(cache).decr(cache.make_and_validate_key(current_key))
            return
        with contextlib.suppress(ValueError):
            cache.decr(current_key)

    def wait(self) -> float | None:
        """Seconds until one more request fits under the limit."""
        limit, period = self.num_requests, self.duration
        weight = 1 - self.elapsed / period
        if self.current + 1 <= limit:
            # Within this window, once the previous window's weight has fallen enough.
            if self.previous == 0:
                return 0.0
            target = (limit - self.current - 1) / self.previous
            return max(0.0, (weight - target) * period)
        # After this window ends, when this window (then the previous) weighs little enough.
        rest = period - self.elapsed
        share = (limit - 1) / self.current if self.current else 1.0
        return rest + max(0.0, (1 - share) * period)
