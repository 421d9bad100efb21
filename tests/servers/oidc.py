"""A real OpenID provider for tests: the npm package ``oidc-provider`` run with the system
Node.js (tests/oidc/provider/server.mjs), on 127.0.0.1 over TLS with a certificate from a
trustme CA. ``npm install --prefix tests/oidc/provider`` installs it (.ci/run does).

The signing key is made here, so tests (and Dovecot's local token validation) know the
public key, and attack tests can sign tokens with another one.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import trustme
from joserfc.jwk import RSAKey

from .ports import free_port
from .process import PrivateServer, alive

__all__ = ["PROVIDER_DIR", "OidcProvider"]

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc" / "provider"
NODE = "/usr/bin/node"


class OidcProvider(PrivateServer):
    """One provider with one confidential client whose redirect URI is ``redirect_uri``."""

    host = "localhost"

    def __init__(
        self,
        redirect_uri: str,
        *,
        ca: trustme.CA | None = None,
        client_id: str = "mailgate",
        post_logout_redirect_uri: str = "",
        access_token_ttl: int = 600,
    ) -> None:
        self.ca = ca or trustme.CA()
        self.root = Path(tempfile.mkdtemp(prefix="mailgate-oidc-"))
        self.log_file = self.root / "provider.log"
        self.port = free_port()
        self.issuer = f"https://{self.host}:{self.port}"
        self.client_id = client_id
        self.client_secret = secrets.token_urlsafe(24)
        self.redirect_uri = redirect_uri
        self.resource = "urn:mailgate:mail"
        self.kid = f"k-{secrets.token_hex(4)}"
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": self.kid, "use": "sig", "alg": "RS256"}, private=True
        )
        self.ca_file = str(self.root / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.root / "tls.pem"))
        self.cert_file = str(self.root / "cert.pem")
        cert.cert_chain_pems[0].write_to_path(self.cert_file)
        self.post_logout_redirect_uri = post_logout_redirect_uri
        self.config_file = self.root / "config.json"
        self._cookie_key = secrets.token_urlsafe(24)
        self._access_token_ttl = access_token_ttl
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return os.path.exists(NODE) and (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir()

    def public_pem(self) -> bytes:
        return self.key.as_pem(private=False)

    def _write_config(self) -> None:
        """Written at start, so a test may set ``redirect_uri`` once it knows mailgate's."""
        client: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        if self.post_logout_redirect_uri:
            client["post_logout_redirect_uris"] = [self.post_logout_redirect_uri]
        self.config_file.write_text(
            json.dumps(
                {
                    "issuer": self.issuer,
                    "port": self.port,
                    "cert": str(self.root / "tls.pem"),
                    "key": str(self.root / "tls.pem"),
                    "clients": [client],
                    "jwks": {"keys": [self.key.as_dict(private=True)]},
                    "cookie_key": self._cookie_key,
                    "resource": self.resource,
                    "access_token_ttl": self._access_token_ttl,
                }
            )
        )
        self.config_file.chmod(0o600)

    def start(self) -> None:
        self._write_config()
        log = open(self.log_file, "wb")  # noqa: SIM115 - the child keeps it
        self._proc = subprocess.Popen(
            [NODE, str(PROVIDER_DIR / "server.mjs"), str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROVIDER_DIR,
            env={"PATH": os.environ.get("PATH", ""), "NODE_ENV": "test"},
        )
        log.close()
        deadline = time.monotonic() + 30
        while "listening" not in self.log():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the OpenID provider did not start:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if alive(proc.pid):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
