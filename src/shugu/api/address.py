"""The client address of a request, believing `X-Forwarded-For` only from trusted proxies.

The direct peer is the client unless it is one of the trusted proxies. Then `X-Forwarded-For` is
read from the right (each proxy appends the address it was reached from): the right-most address
that is not itself a trusted proxy is the client. Anything left of it was written by the client
and is ignored, so a client cannot choose its own address.

>>> proxies = TrustedProxies(["10.0.0.0/8"])
>>> proxies.client_address("10.0.0.5", ["198.51.100.7, 203.0.113.9, 10.0.0.2"])
'203.0.113.9'
>>> proxies.client_address("203.0.113.9", ["1.2.3.4"])
'203.0.113.9'

Limits count an IPv6 client by its /64 network (one site's allocation), not by each of its
addresses: `limit_key("2001:db8::1")` is ``'2001:db8::/64'``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import Scope

UNKNOWN = "unknown"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The reverse proxies whose `X-Forwarded-For` header is believed."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )

    def trusts(self, address: str) -> bool:
        """Whether `address` is a trusted proxy (False for anything that is not an IP)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_address(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client of a request from `peer` carrying these `X-Forwarded-For` values."""
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        nearest = peer
        for hop in reversed(hops):
            if not _is_ip(hop):
                return nearest
            if not self.trusts(hop):
                return hop
            nearest = hop
        return nearest

    def of_scope(self, scope: Scope) -> str:
        """The client address of an ASGI HTTP request."""
        client = scope.get("client")
        peer = str(client[0]) if client else UNKNOWN
        if not self._networks:
            return peer
        values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        return self.client_address(peer, values)


def limit_key(address: str) -> str:
    """What a rate limit counts for a client address: an IPv4 address, an IPv6 /64 network.

    >>> limit_key("203.0.113.9"), limit_key("2001:db8:0:1::7"), limit_key("unknown")
    ('203.0.113.9', '2001:db8:0:1::/64', 'unknown')
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
