"""ManageSieve refusals before any credential is sent: a STARTTLS-stripping server, an
injected response before the handshake, a refused STARTTLS and an untrusted certificate,
each shown by a recording fake server (tests/integration/fake_sieve.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailgate.config import Config
from mailgate.mail.sieve import PlainMechanism, SieveConnection, SieveTlsError
from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate
from mailgate.tls import upstream_context
from tests.conftest import Upstream
from tests.integration.fake_sieve import FakeSieve

SECRET = "sieve-secret-\u2713"


@pytest.fixture
def fake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSieve]:
    server = FakeSieve(request.param, tmp_path)
    yield server
    server.close()


async def _open(fake: FakeSieve, security: str) -> SieveConnection:
    return await SieveConnection.open(
        "localhost",
        fake.port,
        security,
        upstream_context(fake.ca_file),
        timeout=5,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "fake,security,reason",
    [
        ("stripped", "starttls", "no_starttls"),
        ("inject", "starttls", "starttls_injection"),
        ("refuse", "starttls", "starttls_refused"),
        ("untrusted_starttls", "starttls", "cert_verify_failed"),
        ("untrusted", "tls", "cert_verify_failed"),
    ],
    indirect=["fake"],
)
async def test_refused_before_credentials(fake: FakeSieve, security: str, reason: str) -> None:
    with pytest.raises(SieveTlsError) as caught:
        await _open(fake, security)
    assert caught.value.reason == reason
    # At most the STARTTLS command reached the server; nothing else was said.
    sent = bytes(fake.received)
    assert sent == (b"" if security == "tls" or reason == "no_starttls" else b"STARTTLS\r\n")


@pytest.mark.parametrize("fake", ["trusted_starttls"], indirect=True)
async def test_the_control_server_does_get_credentials(fake: FakeSieve) -> None:
    """The recording is not blind: a proper STARTTLS server receives AUTHENTICATE."""
    conn = await _open(fake, "starttls")
    assert conn.is_tls
    await conn.authenticate(PlainMechanism("someone@example.test", SECRET))
    await conn.logout()
    assert b"AUTHENTICATE" in fake.received


async def test_no_authentication_on_a_plaintext_connection() -> None:
    """Belt and braces: even a connection object that is not TLS refuses to authenticate."""
    import asyncio

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'"SASL" "PLAIN"\r\nOK ""\r\n')
        await writer.drain()
        received.extend(await reader.read(1000))
        writer.close()

    received = bytearray()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = SieveConnection(reader, writer, timeout=5)
    try:
        with pytest.raises(SieveTlsError, match="not_tls"):
            await conn.authenticate(PlainMechanism("someone@example.test", SECRET))
    finally:
        conn.close()
        server.close()
    assert SECRET.encode() not in received


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
@pytest.mark.parametrize("fake", ["stripped", "untrusted_starttls"], indirect=True)
async def test_mailgate_answers_502_and_sends_nothing(
    fake: FakeSieve, upstream: Upstream, user: tuple[str, str]
) -> None:
    settings = {k: dict(v) for k, v in upstream.settings.items()}
    config = Config().replace(
        **settings, sieve={"host": "localhost", "port": fake.port, "security": "starttls"}
    )
    running = RunningMailgate(config).start()
    try:
        async with ApiClient(running.url, running.client_ssl()) as api:
            assert (await api.login(*user)).status == 201
            resp = await api.get("/api/sieve")
            assert resp.status == 502, resp
            assert resp.error_code == "upstream_tls_failed"
            resp = await api.request("PUT", "/api/sieve/filters", json={"filters": []})
            assert resp.status == 502, resp
    finally:
        running.stop()
    assert fake.connections == 2
    assert b"AUTHENTICATE" not in fake.received
    assert user[1].encode() not in fake.received


@pytest.mark.parametrize("fake", ["stripped"], indirect=True)
async def test_mailgate_check_reports_a_stripped_starttls(fake: FakeSieve) -> None:
    import io

    from mailgate.check import Report, _check_sieve
    from mailgate.mail.upstreams import Endpoint, Upstream

    out = io.StringIO()
    report = Report(out)
    sieve = Endpoint("localhost", fake.port, "starttls")
    upstream = Upstream(
        "", Endpoint("localhost", 993, "tls"), Endpoint("localhost", 465, "tls"), sieve
    )
    await _check_sieve(upstream, 15.0, upstream_context(), report)
    assert report.failures == 1
    assert "no verified TLS (no_starttls)" in out.getvalue()
