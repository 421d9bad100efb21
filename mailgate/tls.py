"""TLS contexts: the HTTPS listener (Mozilla 6.0) and verifying upstream clients."""

from __future__ import annotations

import ctypes
import ssl
from functools import cache
from pathlib import Path

__all__ = [
    "INTERMEDIATE_GROUPS",
    "INTERMEDIATE_TLS12_CIPHERS",
    "server_context",
    "upstream_context",
]

# Mozilla "intermediate" key-exchange groups. OpenSSL's default list adds X448, secp521r1
# and the ffdhe groups, which the profile excludes.
INTERMEDIATE_GROUPS = "X25519:prime256v1:secp384r1"
_SSL_CTRL_SET_GROUPS_LIST = 92  # openssl/ssl.h; SSL_CTX_set1_groups_list is this ctrl

# Mozilla "intermediate" TLS 1.2 suites: ECDHE + AEAD only. TLS 1.3 suites are
# OpenSSL's defaults, which already match Mozilla's list.
INTERMEDIATE_TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """The HTTPS listener: TLS 1.2+, AEAD suites, no renegotiation, no compression."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(INTERMEDIATE_TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    _set_groups(ctx, INTERMEDIATE_GROUPS)
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


@cache
def _libssl() -> ctypes.CDLL:
    """The libssl the `ssl` module itself is linked against (the one its contexts live in)."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            path = line.split()[-1]
            if "/libssl.so" in path:
                return ctypes.CDLL(path)
    raise OSError("libssl is not mapped")


def _set_groups(ctx: ssl.SSLContext, groups: str) -> None:
    """SSL_CTX_set1_groups_list, which Python's `ssl` module does not expose (its
    `set_ecdh_curve` allows exactly one curve, and not X25519).

    CPython's SSLContext object starts with its SSL_CTX pointer right after the object
    header; a test performs real handshakes to check the result."""
    libssl = _libssl()
    libssl.SSL_CTX_ctrl.restype = ctypes.c_long
    libssl.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    ssl_ctx = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if (
        not ssl_ctx
        or libssl.SSL_CTX_ctrl(ssl_ctx, _SSL_CTRL_SET_GROUPS_LIST, 0, groups.encode()) != 1
    ):
        raise ssl.SSLError("could not restrict the TLS key-exchange groups")


def upstream_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A client context for IMAP/SMTP: certificate and host name always verified.

    There is deliberately no way to turn verification off.
    """
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx
