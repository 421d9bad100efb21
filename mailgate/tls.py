"""TLS contexts: the HTTPS listener (Mozilla 6.0) and verifying upstream clients."""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["INTERMEDIATE_TLS12_CIPHERS", "server_context", "upstream_context"]

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
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def upstream_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """A client context for IMAP/SMTP: certificate and host name always verified.

    There is deliberately no way to turn verification off.
    """
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx
