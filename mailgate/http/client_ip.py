"""The client address used for throttling: the socket peer, or X-Forwarded-For only
when the peer is a configured trusted proxy (SEC-12). Never logged."""

from __future__ import annotations

import ipaddress

from aiohttp import web

__all__ = ["client_address"]


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    address = peer[0] if peer else "unknown"
    if trusted_proxies and address in trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "")
        # The right-most entry not added by one of our proxies is the client.
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if hop in trusted_proxies:
                continue
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                break
    return address
