"""Security headers on every response, set once, in one place (docs/security.md, §4)."""

from __future__ import annotations

from aiohttp import web

__all__ = [
    "API_CSP",
    "DOWNLOAD_CSP",
    "FRAME_CSP",
    "FRAME_SANDBOX",
    "SHELL_CSP",
    "add_security_headers",
    "apply_security_headers",
]

SHELL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; "
    "frame-src 'self'; form-action 'none'; base-uri 'none'; object-src 'none'; "
    # DOM sinks (innerHTML, eval…) refuse strings: a missed escape cannot become script.
    "frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The sanitized mail body: no script, no remote load, its own sandbox (SEC-31). The
# sandbox allows exactly one thing: a link (target=_blank, rel=noopener noreferrer from the
# sanitizer) may open a new, unsandboxed tab. Never allow-scripts or allow-same-origin.
FRAME_SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
FRAME_CSP = (
    f"sandbox {FRAME_SANDBOX}; default-src 'none'; img-src 'self' data:; "
    "style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
DOWNLOAD_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"

_ALWAYS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "X-DNS-Prefetch-Control": "off",
    "Server": "mailgate",
}


async def add_security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: runs for handler answers, errors and streams alike.

    Handlers that need a different policy (the mail frame, downloads, the image proxy)
    set theirs first; these are defaults, so nothing is ever sent twice.
    """
    apply_security_headers(response)


def apply_security_headers(response: web.StreamResponse) -> None:
    """The headers themselves; also used for answers aiohttp makes before routing."""
    headers = response.headers
    for name, value in _ALWAYS.items():
        headers[name] = value
    headers.setdefault("Content-Security-Policy", API_CSP)
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")
    content_type = headers.get("Content-Type", "")
    if content_type.startswith("text/html"):
        headers.setdefault("Cross-Origin-Embedder-Policy", "require-corp")
    for name in ("X-Powered-By", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"):
        headers.popall(name, None)
