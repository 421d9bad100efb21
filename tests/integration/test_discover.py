"""`mailgate discover` against a local DNS server (dnslib) and a local https autoconfig
host, with Dovecot and the sandbox's submission server as the candidates to probe.
Everything listens on 127.0.0.1; addresses elsewhere only ever appear in DNS answers,
and are refused before anything connects."""

from __future__ import annotations

import dataclasses
import io
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from mailgate.discover import AUTOCONFIG_MAX_BYTES, DiscoverOptions, run_discover
from mailgate.testing.loop import LoopThread
from mailgate.testing.servers import RunningSandbox, free_port
from tests.conftest import OUTPUT
from tests.servers.dovecot import Dovecot

dnslib = pytest.importorskip("dnslib", reason="dnslib (test extra) runs the local DNS server")
from dnslib import QTYPE, RR  # noqa: E402
from dnslib.server import BaseResolver, DNSServer  # noqa: E402

pytestmark = pytest.mark.dovecot

AUTOCONFIG_HOSTS = [
    "autoconfig.good.test",
    "good.test",
    "autoconfig.redirect.test",
    "autoconfig.http.test",
    "autoconfig.big.test",
]


class Zone(BaseResolver):  # type: ignore[misc]
    """Answers from a list of zone lines; `secure` domains get the AD flag, as a
    validating resolver would set it."""

    def __init__(self, zone: str, secure: tuple[str, ...] = ()):
        self.records = RR.fromZone(zone)
        self.secure = secure

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        qname, qtype = request.q.qname, QTYPE[request.q.qtype]
        for record in self.records:
            if record.rname == qname and QTYPE[record.rtype] == qtype:
                reply.add_answer(record)
        if any(str(qname).rstrip(".").endswith(d) for d in self.secure):
            reply.header.ad = 1
        return reply


def _config_xml(imap_port: int, smtp_port: int) -> str:
    return f"""<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="good.test">
    <domain>good.test</domain>
    <incomingServer type="imap">
      <hostname>localhost</hostname><port>{imap_port}</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>plain.good.test</hostname><port>143</port><socketType>plain</socketType>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>localhost</hostname><port>{smtp_port}</port><socketType>SSL</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>"""


@dataclass
class World:
    dns_port: int
    https_port: int
    ca_file: str
    imap_port: int
    smtp_port: int
    requests: list[str]

    def options(self, tmp: Path | None = None) -> DiscoverOptions:
        return DiscoverOptions(
            resolver=("127.0.0.1", self.dns_port),
            https_port=self.https_port,
            allow_networks=("127.0.0.0/8",),
            ca_file=self.ca_file,
            write=str(tmp / "entry.toml") if tmp else None,
            timeout_s=5.0,
        )


@pytest.fixture(scope="module")
def world(dovecot: Dovecot, sandbox: RunningSandbox) -> Iterator[World]:
    imap_port = dovecot.port or 0
    smtp_port = sandbox.sandbox.smtp_port
    ca = trustme.CA()
    cert = ca.issue_cert(*AUTOCONFIG_HOSTS)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    requests: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        requests.append(f"{host}{request.path}")
        if host == "autoconfig.good.test":
            return web.Response(
                text=_config_xml(imap_port, smtp_port), content_type="application/xml"
            )
        if host == "good.test":
            return web.Response(status=404)
        if host == "autoconfig.redirect.test":
            raise web.HTTPFound("https://autoconfig.evil.test/mail/config-v1.1.xml")
        if host == "autoconfig.http.test":
            raise web.HTTPFound("http://autoconfig.http.test/mail/config-v1.1.xml")
        if host == "autoconfig.big.test":
            response = web.StreamResponse()  # chunked: no Content-Length to refuse early
            await response.prepare(request)
            chunk = b"<!-- " + b"x" * 65536 + b" -->"
            for _ in range((10 * 1024 * 1024) // len(chunk)):
                try:
                    await response.write(chunk)
                except ConnectionError:
                    break
            return response
        return web.Response(status=404)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", serve)
    thread = LoopThread("autoconfig-host")
    https_port = free_port()
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=server_ctx).start()

    thread.call(start())

    zone = f"""
localhost. 60 IN A 127.0.0.1
good.test. 60 IN A 127.0.0.1
autoconfig.good.test. 60 IN A 127.0.0.1
_imaps._tcp.good.test. 60 IN SRV 0 1 {imap_port} localhost.
_submissions._tcp.good.test. 60 IN SRV 0 1 {smtp_port} localhost.
_imap._tcp.good.test. 60 IN SRV 5 1 143 private.good.test.
_submission._tcp.good.test. 60 IN SRV 0 0 0 .
private.good.test. 60 IN A 10.1.2.3
good.test. 60 IN MX 10 mx.good.test.
autoconfig.redirect.test. 60 IN A 127.0.0.1
autoconfig.evil.test. 60 IN A 127.0.0.1
autoconfig.http.test. 60 IN A 127.0.0.1
autoconfig.big.test. 60 IN A 127.0.0.1
_imaps._tcp.private.test. 60 IN SRV 0 1 993 inside.private.test.
inside.private.test. 60 IN A 192.168.7.7
"""
    dns_port = free_port()
    dns = DNSServer(Zone(zone, secure=("good.test",)), port=dns_port, address="127.0.0.1")
    dns.start_thread()
    ca_file = OUTPUT / f"ca-discover-{secrets.token_hex(4)}.pem"
    ca_file.write_bytes(
        ca.cert_pem.bytes()
        + Path(dovecot.ca_file).read_bytes()
        + Path(sandbox.ca_file).read_bytes()
    )
    try:
        yield World(dns_port, https_port, str(ca_file), imap_port, smtp_port, requests)
    finally:
        dns.stop()
        thread.call(runner.cleanup())
        thread.close()


async def _run(domain: str, options: DiscoverOptions) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_discover(domain, options, out)
    return code, out.getvalue()


async def test_a_domain_is_discovered_from_srv_and_autoconfig(world: World, tmp_path: Path) -> None:
    code, text = await _run("Good.Test", world.options(tmp_path))
    assert code == 0, text
    # The proposal: the verified implicit-TLS servers.
    assert '[domains."good.test"]' in text
    assert 'imap_host = "localhost"' in text and f"imap_port = {world.imap_port}" in text
    assert 'smtp_security = "tls"' in text and f"smtp_port = {world.smtp_port}" in text
    # The evidence, with the DNSSEC marking from the resolver's AD flag.
    assert "_imaps._tcp.good.test -> localhost" in text and "DNSSEC-validated" in text
    assert "_submission._tcp.good.test: service not offered" in text
    assert "MX good.test -> mx.good.test (hint only" in text
    assert "plain.good.test:143 refused (no TLS)" in text
    assert "private.good.test:143 (starttls): refused: resolves to a non-public address" in text
    assert "TLS verified; AUTH" in text
    # Written only because it was asked for.
    written = (tmp_path / "entry.toml").read_text()
    assert written.startswith('[domains."good.test"]')


async def test_nothing_is_written_unless_asked(world: World, tmp_path: Path) -> None:
    code, _ = await _run("good.test", world.options(None))
    assert code == 0
    assert list(tmp_path.iterdir()) == []


async def test_a_redirect_off_the_domain_is_not_followed(world: World) -> None:
    world.requests.clear()
    code, text = await _run("redirect.test", world.options())
    assert code == 1
    assert "refused (leaves redirect.test)" in text
    assert not any(r.startswith("autoconfig.evil.test") for r in world.requests)


async def test_a_plain_http_autoconfig_is_refused(world: World) -> None:
    code, text = await _run("http.test", world.options())
    assert code == 1
    assert "http://autoconfig.http.test/mail/config-v1.1.xml: refused (not https)" in text


async def test_a_huge_autoconfig_document_is_cut_at_the_cap(world: World) -> None:
    assert AUTOCONFIG_MAX_BYTES < 10 * 1024 * 1024
    code, text = await _run("big.test", world.options())
    assert code == 1
    assert "refused (larger than the cap)" in text


async def test_srv_answers_without_dnssec_are_hints_and_private_targets_are_refused(
    world: World,
) -> None:
    code, text = await _run("private.test", world.options())
    assert code == 1
    assert "_imaps._tcp.private.test -> inside.private.test:993 (hint: no DNSSEC)" in text
    assert "refused: resolves to a non-public address" in text
    assert "no proposal" in text


async def test_a_server_whose_certificate_is_not_trusted_is_not_proposed(
    world: World, dovecot: Dovecot, tmp_path: Path
) -> None:
    # Trust the autoconfig host and Dovecot, not the submission server's CA.
    partial = tmp_path / "partial-ca.pem"
    bundle = Path(world.ca_file).read_bytes()
    first_two = (
        bundle[: bundle.index(Path(dovecot.ca_file).read_bytes())]
        + Path(dovecot.ca_file).read_bytes()
    )
    partial.write_bytes(first_two)
    options = dataclasses.replace(world.options(), ca_file=str(partial))
    code, text = await _run("good.test", options)
    assert code == 1, text
    assert f"probe smtp localhost:{world.smtp_port} (tls): no verified TLS" in text
    assert f"probe imap localhost:{world.imap_port} (tls): TLS verified" in text


async def test_not_a_domain(world: World) -> None:
    code, text = await _run("[127.0.0.1]", world.options())
    assert code == 2 and "not a domain name" in text
