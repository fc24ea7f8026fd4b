"""A URL read from a QR code, taken as a phone's browser would take it: the website it
leads to, whether that is this portal, and the record code in its path.

A genuine served document's QR code holds this portal's address (PUBLIC_BASE_URL). One
whose address is another website's, even with a real record code in it, is how a forged
copy would send a litigant to a look-alike page, so the photo flow warns instead of
following it. No Django: the host rules are given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

_CODE_IN_PATH = re.compile(r"/v/([^/?#]+)/?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


@dataclass(frozen=True)
class ScannedUrl:
    """Where a scanned URL leads and what record code it names (None: no /v/<code> path)."""

    host: str  # the website, as the browser would name it: ASCII (IDNA), with any port
    own: bool  # this portal's own address
    code_text: str | None


class OwnAddress:
    """This portal's addresses: the host and port of its public base URL, and the host
    names it answers to (Django's ALLOWED_HOSTS form: `.example.org` for subdomains too;
    `*` names no host)."""

    def __init__(self, public_base_url: str, allowed_hosts: Iterable[str]) -> None:
        public = urlsplit(public_base_url)
        self.host = _ascii_host(public.hostname or "")
        self.port = public.port
        self.patterns = [_ascii_host(h) for h in allowed_hosts if h and h != "*"]

    def holds(self, scheme: str, host: str, port: int | None) -> bool:
        """Whether an http(s) address with this host and port is this portal's."""
        if port not in (None, _DEFAULT_PORTS[scheme], self.port):
            return False
        return host == self.host or any(_matches(host, p) for p in self.patterns)


def read_url(text: str, own: OwnAddress) -> ScannedUrl | None:
    """The website a scanned URL leads to and the record code text in its path; None when
    the text is not the address of a website (an http or https URL with a host)."""
    # A browser drops surrounding spaces and controls, and reads a backslash in an http(s)
    # URL as a slash: `https://evil.example\@portal/` leads to evil.example.
    text = text.strip(_C0_AND_SPACE)
    parts = urlsplit(text.replace("\\", "/"))
    scheme = parts.scheme.lower()
    host = _ascii_host(parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    try:
        port = parts.port
    except ValueError:  # not a port a browser could open: not this portal either
        shown, own_host = _ascii_host(parts.netloc.rpartition("@")[2]), False
    else:
        own_host = own.holds(scheme, host, port)
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address
        shown += f":{port}" if port is not None else ""
    match = _CODE_IN_PATH.search(parts.path)
    return ScannedUrl(shown, own_host, match.group(1) if match else None)


def _ascii_host(host: str) -> str:
    """A host name as a browser sends it: lower case, internationalised names in IDNA
    (look-alike letters of other scripts show as xn--…)."""
    try:
        return host.lower().encode("idna").decode("ascii")
    except UnicodeError:
        return host.lower().encode("ascii", "backslashreplace").decode("ascii")


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("."):
        return host == pattern[1:] or host.endswith(pattern)
    return host == pattern
