"""Which IP addresses count as public (SEC-60), for anything fetched on a user's behalf.

`ipaddress.is_global` alone is not enough: it calls 224.0.0.1, 64:ff9b::a00:1 and
2002:7f00:1:: global. So IPv4 embedded in IPv6 (IPv4-mapped, NAT64, 6to4, Teredo) is
unwrapped and checked as IPv4, and multicast is refused explicitly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["AddressPolicy", "embedded_ipv4", "is_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
# Deprecated site-local (RFC 3879); Python 3.11 still calls it global.
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is of a kind that carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client (the server half is not where we connect)
    packed = address.packed
    if packed[:12] == bytes(12) and packed[12:] not in (bytes(4), b"\x00\x00\x00\x01"):
        return ipaddress.IPv4Address(packed[12:])  # deprecated IPv4-compatible ::a.b.c.d
    return None


def is_public(address: IPAddress) -> bool:
    """True only for a unicast address on the public Internet."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL or address in _SITE_LOCAL:
            return False
        # The IPv4 inside decides (before the reserved check, which covers ::ffff:0:0/96
        # and 64:ff9b::/96 wholesale and would refuse public NAT64 targets).
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return False
    return address.is_global


class AddressPolicy:
    """Public addresses, plus the networks an operator (or a test) explicitly allows."""

    def __init__(self, allowed: Iterable[str] = ()):
        self._allowed: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in allowed
        )

    def permits(self, address: str | IPAddress) -> bool:
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            return False  # a zone index only ever names a local link
        if any(ip in net for net in self._allowed if net.version == ip.version):
            return True
        return is_public(ip)
