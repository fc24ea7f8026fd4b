"""Each log's budget of add-checkpoint requests, its list's `qpd` (requests a day), counted
with the portal's sliding-window counters (plumbing/throttling.py) keyed by witness and
log rather than by client. Like every rate limit of the portal it lets requests through,
uncounted, while its store (Redis) cannot be reached."""

from __future__ import annotations

import hashlib

from plumbing.page_limits import retry_after
from plumbing.throttling import CountingRateThrottle
from witness.identity import Identity
from witness.models import Log

SCOPE = "witness_qpd"


class LogQuota(CountingRateThrottle):
    """The counters of one log at one witness, at `qpd` requests a day."""

    def __init__(self, identity: Identity, log: Log) -> None:
        self.qpd = log.qpd
        key = f"{identity.name}\n{log.origin}".encode()
        self.ident = hashlib.sha256(key).hexdigest()[:32]

    def get_rate(self) -> str:
        return f"{self.qpd}/day"

    def get_ident(self, request) -> str:
        return self.ident


def admit(identity: Identity, log: Log) -> int | None:
    """Count one request of `log`: None when within its qpd, else the seconds to wait."""
    quota = LogQuota(identity, log)
    if quota.allow(None, SCOPE):
        return None
    return retry_after(quota.wait())
