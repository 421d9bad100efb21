"""HTTP hardening of the real HTTPS listener: SEC-29, 32, 33, 36 (TLS) and SEC-67. The
app-level rows (SEC-16 … 30, 64: methods, CSRF, CORS, headers) run in process, in
tests/inprocess/test_http_security.py."""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest

pytestmark = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)


def test_sec_29_and_sec_36_no_plaintext_listener(mailgate):
    # Plain HTTP to the HTTPS port never gets an HTTP answer.
    with socket.create_connection(("127.0.0.1", mailgate.port), timeout=5) as sock:
        sock.sendall(b"GET /api/session HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            data = sock.recv(100)
        except (ConnectionResetError, TimeoutError):
            data = b""
    assert not data.startswith(b"HTTP/")
    # And nothing listens on port 80 on our behalf.
    with socket.socket() as s:
        s.settimeout(1)
        assert s.connect_ex(("127.0.0.1", 80)) != 0


def _handshake(mailgate, **kw) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=mailgate.ca_file)
    for name, value in kw.items():
        setattr(ctx, name, value)
    sock = socket.create_connection(("127.0.0.1", mailgate.port), timeout=5)
    return ctx.wrap_socket(sock, server_hostname="localhost")


def test_sec_32_old_tls_versions_fail(mailgate):
    with pytest.raises(ssl.SSLError):
        _handshake(
            mailgate, minimum_version=ssl.TLSVersion.TLSv1, maximum_version=ssl.TLSVersion.TLSv1_1
        ).close()
    tls12 = _handshake(mailgate, maximum_version=ssl.TLSVersion.TLSv1_2)
    assert tls12.version() == "TLSv1.2"
    tls12.close()
    tls13 = _handshake(mailgate)
    assert tls13.version() == "TLSv1.3"
    tls13.close()


def test_sec_33_tls12_suites_are_ecdhe_aead_only(mailgate):
    accepted = []
    probe = ssl.create_default_context(cafile=mailgate.ca_file)
    probe.set_ciphers("ALL:@SECLEVEL=0")
    for cipher in probe.get_ciphers():
        if cipher["protocol"] != "TLSv1.2":
            continue
        try:
            sock = _handshake(mailgate, maximum_version=ssl.TLSVersion.TLSv1_2)
        except ssl.SSLError:
            break
        sock.close()
        ctx = ssl.create_default_context(cafile=mailgate.ca_file)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.set_ciphers(cipher["name"] + ":@SECLEVEL=0")
        except ssl.SSLError:
            continue
        try:
            with ctx.wrap_socket(
                socket.create_connection(("127.0.0.1", mailgate.port), timeout=5),
                server_hostname="localhost",
            ):
                accepted.append(cipher["name"])
        except (ssl.SSLError, OSError):
            pass
    assert accepted, "no TLS 1.2 suite accepted"
    for name in accepted:
        assert name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name), name


async def test_sec_67_oversized_header_is_refused(mailgate):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", mailgate.port, ssl=mailgate.client_ssl(), server_hostname="localhost"
    )
    writer.write(
        b"GET /healthz HTTP/1.1\r\nHost: localhost:%d\r\nX-Big: %s\r\n\r\n"
        % (mailgate.port, b"a" * 16384)
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split()[1] in (b"400", b"431")
