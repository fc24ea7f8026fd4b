"""Who sent a request: its peer's address, or the one the trusted proxies in front vouch for.

X-Forwarded-For is a list anyone can start: each proxy appends the address of the peer it
received the request from, so only the entries appended by proxies this deployment runs
are true. Read from the right, the entries are skipped while they are trusted proxies;
the first one that is not is the client. Everything to its left was written by the
client and is ignored. With no trusted proxy the header is ignored entirely.

Which hops are trusted proxies: the peer (REMOTE_ADDR) first, then the entries from the
right, each at most `proxy_count` hops from the portal (when it is above 0) and, when
`proxies` (networks) are given, inside one of them. So `proxy_count` alone is "this many
proxies always stand in front" and `proxies` alone is "these machines are proxies".

An entry that is not an address (a client's junk, "unknown", a truncated header) ends
the walk: the client is then the last hop read, a proxy, so a malformed header is
counted with everything else that proxy forwards, never as a fresh client.

No Django here: `plumbing.clients` applies it to requests with the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# Longer than any address in any form a proxy writes (a bracketed IPv6 with a zone and a port).
_LONGEST = 64


@dataclass(frozen=True)
class Client:
    """The client of a request.

    `address` is None when not even the peer's address is usable (a Unix socket with no
    trusted proxy); `forwarded` is true when a forwarding header came with the request,
    trusted or not, so that the request may have crossed a proxy.
    """

    address: Address | None
    forwarded: bool

    @property
    def is_local(self) -> bool:
        """Sent from this host directly: a loopback peer and no proxy on the way."""
        return self.address is not None and self.address.is_loopback and not self.forwarded

    def __str__(self) -> str:
        return str(self.address) if self.address is not None else "-"


def parse_address(text: str | None) -> Address | None:
    """An address as proxies write it: bare, with a port, or a bracketed IPv6 with a port.

    An IPv4 address mapped into IPv6 (a dual-stack socket's IPv4 peer) is its IPv4 address.
    Anything else is None.
    """
    if not text:
        return None
    text = text.strip()
    if len(text) > _LONGEST:
        return None
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not _is_port(port.removeprefix(":"))) or ":" not in host:
            return None
        text = host
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has at least two colons
        text, port = text.split(":")
        if not _is_port(port):
            return None
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


def identify(
    remote_addr: str | None,
    forwarded_for: str | None,
    *,
    proxy_count: int,
    proxies: Sequence[Network],
    other_forwarding: bool = False,
) -> Client:
    """The client of a request whose peer is `remote_addr` and which carries the
    X-Forwarded-For value `forwarded_for` (None: no such header; several headers are one
    value joined by commas). `other_forwarding`: another forwarding header (Forwarded,
    X-Real-IP) came with it; it is never read, but makes the request not local."""
    forwarded = forwarded_for is not None or other_forwarding
    client = parse_address(remote_addr)
    if forwarded_for is None:
        return Client(client, forwarded)
    limit = proxy_count if proxy_count > 0 else (None if proxies else 0)
    entries = forwarded_for.split(",") if limit != 0 else []
    hops = 0
    while _is_proxy(client, hops, limit, proxies) and entries:
        previous = parse_address(entries.pop())
        if previous is None:
            break  # nothing trustworthy lies further left
        client, hops = previous, hops + 1
    return Client(client, forwarded)


def _is_proxy(
    address: Address | None, hops: int, limit: int | None, proxies: Sequence[Network]
) -> bool:
    """Whether the hop `hops` away from the portal, at `address`, is a trusted proxy.

    A peer with no address (a proxy on a Unix socket) can only be counted, not found in
    a network."""
    if limit is not None and hops >= limit:
        return False
    if address is None:
        return not proxies
    return not proxies or any(address in network for network in proxies)


def rate_key(address: Address | None, ipv6_prefix: int) -> str:
    """What a rate limit counts a client by: an IPv4 address, or the IPv6 network of
    `ipv6_prefix` bits around an IPv6 one (a host is usually given a whole /64, so its
    addresses are one client); "unknown" for a client with no address."""
    if address is None:
        return "unknown"
    if isinstance(address, IPv6Address):
        host_bits = 128 - ipv6_prefix
        return IPv6Network((int(address) >> host_bits << host_bits, ipv6_prefix)).with_prefixlen
    return str(address)
