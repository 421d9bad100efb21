"""A throwaway certificate authority for the sandbox servers (trustme under the hood)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import ssl
import tempfile
from pathlib import Path

import trustme

__all__ = ["LEAF_LIFETIME", "LocalCA"]

LEAF_LIFETIME = dt.timedelta(days=89)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


class LocalCA:
    """A CA generated at construction, writing its files into a private 0700 temp dir.

    Clients trust ``ca_pem_path``; servers get leaf certificates from ``issue()``.
    """

    def __init__(self) -> None:
        self.ca = trustme.CA(organization_name="mailgate sandbox")
        # mkdtemp creates the directory 0700 and owned by us.
        self.directory = Path(tempfile.mkdtemp(prefix="mailgate-ca-"))
        self.ca_pem_path = str(self.directory / "ca.pem")
        _write_private(Path(self.ca_pem_path), self.ca.cert_pem.bytes())
        self._issued = 0

    def issue(self, *hostnames: str) -> tuple[str, str]:
        """Issue a leaf certificate for ``hostnames``; return (cert chain path, key path)."""
        if not hostnames:
            raise ValueError("at least one host name is required")
        # A 90-day leaf, as Mozilla's guidelines recommend (SEC-35): `mailgate check` on
        # the sandbox's own certificate then has nothing to warn about.
        now = dt.datetime.now(dt.UTC)
        leaf = self.ca.issue_cert(
            *hostnames, not_before=now - dt.timedelta(hours=1), not_after=now + LEAF_LIFETIME
        )
        self._issued += 1
        cert_path = self.directory / f"cert-{self._issued}.pem"
        key_path = self.directory / f"key-{self._issued}.pem"
        _write_private(cert_path, b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        _write_private(key_path, leaf.private_key_pem.bytes())
        return str(cert_path), str(key_path)

    def server_context(self, *hostnames: str) -> ssl.SSLContext:
        """A TLS 1.2+ server context with a fresh certificate for ``hostnames``."""
        cert_path, key_path = self.issue(*hostnames)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path, key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA only."""
        return ssl.create_default_context(cafile=self.ca_pem_path)

    def cleanup(self) -> None:
        """Delete the temp dir with every certificate and key."""
        shutil.rmtree(self.directory, ignore_errors=True)
