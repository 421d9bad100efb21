"""The HTTPS listener offers only Mozilla "intermediate" key-exchange groups: real
handshakes with `openssl s_client` offering one group each (issue 15)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator

import pytest

from mailgate.sandbox.ca import LocalCA
from mailgate.tls import server_context

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl(1)")


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    ca = LocalCA()
    cert, key = ca.issue("localhost", "127.0.0.1")
    ctx = server_context(cert, key)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok\n")
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(5)
    sock.close()


# How `openssl s_client` names the negotiated group.
_TEMP_KEY = {
    "X25519": "X25519",
    "P-256": "ECDH, prime256v1",
    "P-384": "ECDH, secp384r1",
    "X448": "X448",
    "P-521": "ECDH, secp521r1",
    "ffdhe2048": "DH",
}


def _negotiated(port: int, groups: str, version: str) -> str | None:
    """The group the listener chose for a client offering ``groups`` (in that order)."""
    done = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", f"-{version}", "-groups", groups],
        input=b"",
        capture_output=True,
        timeout=20,
    )
    out = done.stdout.decode("utf-8", "replace")
    if "Cipher is (NONE)" in out:
        return None
    return next((g for g, key in _TEMP_KEY.items() if f"Server Temp Key: {key}," in out), "?")


@pytest.mark.parametrize("group", ["X25519", "P-256", "P-384"])
def test_tls13_accepts_each_intermediate_group(listener: int, group: str) -> None:
    assert _negotiated(listener, group, "tls1_3") == group


@pytest.mark.parametrize("group", ["X448", "P-521", "ffdhe2048"])
def test_tls13_refuses_a_client_offering_only_another_group(listener: int, group: str) -> None:
    assert _negotiated(listener, group, "tls1_3") is None


def test_tls12_uses_x25519_when_the_client_prefers_it(listener: int) -> None:
    # TLS 1.2 clients must also offer the certificate's curve (P-256) for ECDSA.
    assert _negotiated(listener, "X25519:P-256", "tls1_2") == "X25519"


def test_tls12_never_picks_x448_or_p521_however_preferred(listener: int) -> None:
    assert _negotiated(listener, "X448:P-521:P-256", "tls1_2") == "P-256"
