"""The client of a request, as the trusted proxies in front report it.

One answer for everything that asks who sent a request: the rate limits, the court API's
log of token uses, /metrics (local requests only) and the access log. The proxies are
the settings TRUSTED_PROXY_COUNT and TRUSTED_PROXIES (plumbing/forwarded_for.py says how
X-Forwarded-For is read with them); with neither, X-Forwarded-For is ignored.

The answer is worked out once per request by ClientMiddleware and kept in the WSGI
environ (request.META) under `portal.client`, where gunicorn's access log reads it
(docker/gunicorn.conf.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from ipaddress import ip_network

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from plumbing import forwarded_for
from plumbing.forwarded_for import Client, Network

ENVIRON_KEY = "portal.client"


def client(request: HttpRequest) -> Client:
    """Who sent this request (a DRF request too: its META is the Django request's)."""
    meta = request.META
    known = meta.get(ENVIRON_KEY)
    if isinstance(known, Client):
        return known
    found = forwarded_for.identify(
        meta.get("REMOTE_ADDR"),
        meta.get("HTTP_X_FORWARDED_FOR"),
        proxy_count=settings.TRUSTED_PROXY_COUNT,
        proxies=_networks(tuple(settings.TRUSTED_PROXIES)),
        other_forwarding="HTTP_FORWARDED" in meta or "HTTP_X_REAL_IP" in meta,
    )
    meta[ENVIRON_KEY] = found
    return found


def address(request: HttpRequest) -> str | None:
    """The client's address as text (for a log), None when it has none."""
    found = client(request).address
    return str(found) if found is not None else None


def rate_key(request: HttpRequest) -> str:
    """What the rate limits count this request's client by (an IPv6 client by its prefix)."""
    return forwarded_for.rate_key(client(request).address, settings.RATE_LIMIT_IPV6_PREFIX)


@functools.lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ip_network(cidr.strip(), strict=False) for cidr in cidrs)


class ClientMiddleware:
    """Works the client out first thing, so that the access log names it for every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        client(request)
        return self.get_response(request)
