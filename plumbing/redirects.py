"""Redirects to an address the request names (a form's `back`): only ever to this site.

A target that names another host, a scheme other than http(s) (https only when the
request came over HTTPS), or that a browser would read so (`//host`, `/\\host`, a leading
control character) is replaced by the fallback, so that a crafted link can never use the
portal's name to send a litigant elsewhere.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def local_target(request: HttpRequest, target: str | None, fallback: str) -> str:
    """`target` when it leads to this site, else `fallback`."""
    target = (target or "").strip()
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def redirect_back(request: HttpRequest, target: str | None, fallback: str) -> HttpResponseRedirect:
    """A redirect to `target` if it is on this site, else to `fallback` (never a URL
    pattern's name: a target is only ever an address)."""
    return HttpResponseRedirect(local_target(request, target, fallback))
