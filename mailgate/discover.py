"""`mailgate discover DOMAIN`: propose a domain-map entry from what the domain publishes.

An operator's tool, run ahead of time and never at login. It reads the domain's
autoconfig document (https only, size-capped, no redirect off the domain), its RFC 6186 /
RFC 8314 SRV records and, as a hint only, its MX; it connects to each candidate server to
see verified TLS and the offered login mechanisms; then it prints a proposed
`[domains."DOMAIN"]` entry with the evidence, for the operator to review. DNS answers
without DNSSEC validation (no AD flag from the resolver) are marked as hints. Candidates
on non-public addresses are refused. Nothing is written unless `--write` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import socket
import ssl
import sys
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO

from aiohttp.abc import AbstractResolver, ResolveResult

from mailgate.config import MAIL_PORTS
from mailgate.domains import normalize_domain
from mailgate.net.addresses import AddressPolicy

if TYPE_CHECKING:
    import dns.asyncresolver

__all__ = ["Candidate", "DiscoverOptions", "add_arguments", "run_discover"]

Protocol = Literal["imap", "smtp"]
Security = Literal["tls", "starttls"]

AUTOCONFIG_MAX_BYTES = 256 * 1024
_MAX_REDIRECTS = 3
# RFC 8314 prefers implicit TLS; RFC 6186's plain services are only used with STARTTLS.
_SRV: tuple[tuple[str, Protocol, Security], ...] = (
    ("_imaps._tcp", "imap", "tls"),
    ("_submissions._tcp", "smtp", "tls"),
    ("_imap._tcp", "imap", "starttls"),
    ("_submission._tcp", "smtp", "starttls"),
)


@dataclass(frozen=True)
class DiscoverOptions:
    resolver: tuple[str, int] | None = None  # a DNS server to ask instead of the system's
    https_port: int = 443  # where autoconfig is fetched (tests use another)
    allow_networks: tuple[str, ...] = ()  # non-public networks candidates may be on (tests)
    ca_file: str | None = None  # extra CA for autoconfig and the probed servers
    write: str | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DiscoverOptions:
        resolver = None
        if args.resolver:
            host, sep, port = args.resolver.rpartition(":")
            if not sep or (host.count(":") and not host.endswith("]")):
                host, port = args.resolver, "53"  # no port, or a bare IPv6 address
            resolver = (host.strip("[]"), int(port))
        return cls(
            resolver=resolver,
            https_port=args.https_port,
            allow_networks=tuple(args.allow_network or ()),
            ca_file=args.ca_file,
            write=args.write,
            timeout_s=args.timeout,
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resolver", help="DNS server to ask, HOST[:PORT] (default: the system's)")
    parser.add_argument("--write", metavar="FILE", help="also write the proposed entry to FILE")
    parser.add_argument("--ca-file", help="extra CA bundle to trust for autoconfig and servers")
    parser.add_argument(
        "--allow-network",
        action="append",
        metavar="CIDR",
        help="a non-public network candidates may be on (testing; repeatable)",
    )
    parser.add_argument("--https-port", type=int, default=443, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per step")


@dataclass
class Candidate:
    protocol: Protocol
    host: str
    port: int
    security: Security
    source: str  # where it came from, for the evidence
    verified: bool = False
    detail: str = ""


@dataclass
class Findings:
    domain: str
    evidence: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.evidence.append(line)


# -- DNS ----------------------------------------------------------------------------------


class Dns:
    """dnspython's asynchronous resolver, asking for DNSSEC and reporting whether the
    resolver validated the answer (the AD flag)."""

    def __init__(self, options: DiscoverOptions):
        import dns.asyncresolver
        import dns.flags

        resolver = dns.asyncresolver.Resolver(configure=options.resolver is None)
        if options.resolver is not None:
            resolver.nameservers = [options.resolver[0]]
            resolver.port = options.resolver[1]
        resolver.use_edns(0, dns.flags.DO, 1232)
        resolver.lifetime = options.timeout_s
        self._resolver: dns.asyncresolver.Resolver = resolver

    async def query(self, name: str, rdtype: str) -> tuple[list[Any], bool]:
        """The records (empty when there are none) and whether DNSSEC validated them."""
        import dns.exception
        import dns.flags
        import dns.resolver

        try:
            answer = await self._resolver.resolve(name, rdtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return [], False
        except dns.exception.DNSException:
            return [], False
        secure = bool(answer.response.flags & dns.flags.AD)
        return list(answer.rrset or []), secure

    async def addresses(self, host: str) -> list[str]:
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            records, _ = await self.query(host, rdtype)
            found.extend(r.address for r in records)
        return found


def _mark(secure: bool) -> str:
    return "DNSSEC-validated" if secure else "hint: no DNSSEC"


async def _srv_candidates(dns_: Dns, findings: Findings) -> None:
    for label, protocol, security in _SRV:
        name = f"{label}.{findings.domain}"
        records, secure = await dns_.query(name, "SRV")
        for record in sorted(records, key=lambda r: (r.priority, -r.weight)):
            target = record.target.to_text().rstrip(".").lower()
            if not target:  # "." means: this service is not offered
                findings.note(f"SRV {name}: service not offered ({_mark(secure)})")
                continue
            findings.note(f"SRV {name} -> {target}:{record.port} ({_mark(secure)})")
            findings.candidates.append(
                Candidate(protocol, target, int(record.port), security, f"SRV {name}")
            )
    records, secure = await dns_.query(findings.domain, "MX")
    for record in records:
        # MX names where mail is delivered, not where users log in: a hint, never probed.
        findings.note(
            f"MX {findings.domain} -> {record.exchange.to_text().rstrip('.')} "
            f"(hint only: delivery, not login; {_mark(secure)})"
        )


# -- autoconfig ---------------------------------------------------------------------------


def _within(host: str, domain: str) -> bool:
    host = host.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


async def _fetch_autoconfig(
    url: str, dns_: Dns, options: DiscoverOptions, policy: AddressPolicy, findings: Findings
) -> bytes | None:
    """GET an autoconfig document: https only, every hop on the domain, size-capped."""
    import aiohttp

    ctx = ssl.create_default_context(cafile=options.ca_file)
    for _hop in range(_MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "https":
            findings.note(f"autoconfig {url}: refused (not https)")
            return None
        if not _within(host, findings.domain):
            findings.note(f"autoconfig {url}: refused (leaves {findings.domain})")
            return None
        addresses = [a for a in await dns_.addresses(host) if policy.permits(a)]
        if not addresses:
            findings.note(f"autoconfig {url}: no public address")
            return None
        port = parts.port or options.https_port
        connector = aiohttp.TCPConnector(resolver=_PinnedResolver(host, addresses[0]), ssl=ctx)
        timeout = aiohttp.ClientTimeout(total=options.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            target = urllib.parse.urlunsplit(
                ("https", f"{host}:{port}", parts.path or "/", parts.query, "")
            )
            try:
                async with http.get(target, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location", "")
                        url = urllib.parse.urljoin(url, location)
                        findings.note(f"autoconfig redirect -> {url}")
                        continue
                    if resp.status != 200:
                        findings.note(f"autoconfig {url}: HTTP {resp.status}")
                        return None
                    if (resp.content_length or 0) > AUTOCONFIG_MAX_BYTES:
                        findings.note(f"autoconfig {url}: refused (larger than the cap)")
                        return None
                    body = bytearray()
                    async for chunk in resp.content.iter_chunked(16384):
                        body += chunk
                        if len(body) > AUTOCONFIG_MAX_BYTES:
                            findings.note(f"autoconfig {url}: refused (larger than the cap)")
                            return None
                    return bytes(body)
            except (aiohttp.ClientError, TimeoutError, ssl.SSLError, OSError) as exc:
                findings.note(f"autoconfig {url}: failed ({type(exc).__name__})")
                return None
    findings.note("autoconfig: too many redirects")
    return None


class _PinnedResolver(AbstractResolver):
    """aiohttp resolver that answers one checked name with one checked address."""

    def __init__(self, host: str, address: str):
        self._host, self._address = host, address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._host:
            raise OSError("unexpected host")
        version = ipaddress.ip_address(self._address).version
        return [
            {
                "hostname": host,
                "host": self._address,
                "port": port,
                "family": socket.AF_INET6 if version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


_SOCKET_TYPES: dict[str, Security | None] = {"SSL": "tls", "STARTTLS": "starttls", "PLAIN": None}
_SERVER_TAGS: tuple[tuple[str, Protocol], ...] = (
    ("incomingServer", "imap"),
    ("outgoingServer", "smtp"),
)


def _parse_autoconfig(body: bytes, source: str, findings: Findings) -> None:
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        findings.note(f"{source}: not a usable autoconfig document")
        return
    for provider in root.iter("emailProvider"):
        for tag, protocol in _SERVER_TAGS:
            for server in provider.iter(tag):
                if server.get("type") != protocol:
                    continue
                host = (server.findtext("hostname") or "").strip()
                host = host.replace("%EMAILDOMAIN%", findings.domain).lower()
                port_text = (server.findtext("port") or "").strip()
                socket_type = (server.findtext("socketType") or "").strip().upper()
                security = _SOCKET_TYPES.get(socket_type)
                if not host or not port_text.isdigit():
                    continue
                if security is None:
                    findings.note(f"{source}: {protocol} {host}:{port_text} refused (no TLS)")
                    continue
                findings.note(f"{source}: {protocol} {host}:{port_text} ({socket_type})")
                findings.candidates.append(
                    Candidate(protocol, host, int(port_text), security, source)
                )


# -- probing ------------------------------------------------------------------------------


async def _probe(
    candidate: Candidate, dns_: Dns, policy: AddressPolicy, options: DiscoverOptions
) -> None:
    addresses = await dns_.addresses(candidate.host)
    if not addresses:
        candidate.detail = "does not resolve"
        return
    refused = [a for a in addresses if not policy.permits(a)]
    if refused:
        candidate.detail = "refused: resolves to a non-public address"
        return
    ctx = ssl.create_default_context(cafile=options.ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if candidate.protocol == "imap":
        await _probe_imap(candidate, addresses[0], ctx, options.timeout_s)
    else:
        await _probe_smtp(candidate, addresses[0], ctx, options.timeout_s)


async def _probe_imap(
    candidate: Candidate, address: str, ctx: ssl.SSLContext, timeout: float
) -> None:
    from mailgate.mail.imap.errors import ImapError
    from mailgate.mail.imap.protocol import ImapConnection

    try:
        conn = await ImapConnection.open(
            candidate.host,
            candidate.port,
            candidate.security,
            ctx,
            timeout=timeout,
            address=address,
        )
    except (ImapError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        candidate.detail = f"no verified TLS or no answer ({reason})"
        return
    caps = conn.capabilities
    try:
        await conn.logout()
    except (ImapError, OSError, TimeoutError):
        conn.close()
    if "LOGINDISABLED" in caps:
        candidate.detail = "TLS verified, but LOGIN is disabled"
        return
    mechanisms = sorted(c.removeprefix("AUTH=") for c in caps if c.startswith("AUTH="))
    candidate.verified = True
    candidate.detail = f"TLS verified; AUTH {' '.join(mechanisms) or '(LOGIN command)'}"


async def _probe_smtp(
    candidate: Candidate, address: str, ctx: ssl.SSLContext, timeout: float
) -> None:
    import aiosmtplib

    # Connected to the checked address; aiosmtplib verifies the certificate against `host`.
    try:
        sock = await asyncio.wait_for(
            asyncio.to_thread(socket.create_connection, (address, candidate.port), timeout),
            timeout,
        )
    except (OSError, TimeoutError):
        candidate.detail = "no answer"
        return
    sock.setblocking(False)
    client = aiosmtplib.SMTP(
        hostname=candidate.host,
        sock=sock,
        local_hostname="localhost",
        timeout=timeout,
        use_tls=candidate.security == "tls",
        start_tls=candidate.security == "starttls",
        validate_certs=True,
        tls_context=ctx,
    )
    try:
        await client.connect()
        if not client.get_transport_info("peercert"):
            candidate.detail = "no verified TLS"
            return
        await client.ehlo()
        methods = sorted(m.upper() for m in client.server_auth_methods)
        await client.quit()
    except (aiosmtplib.SMTPException, ssl.SSLError, OSError, TimeoutError) as exc:
        candidate.detail = f"no verified TLS or no answer ({type(exc).__name__})"
        return
    finally:
        client.close()
    if not methods:
        candidate.detail = "TLS verified, but no AUTH mechanism offered"
        return
    candidate.verified = True
    candidate.detail = f"TLS verified; AUTH {' '.join(methods)}"


# -- the proposal -------------------------------------------------------------------------


def _best(candidates: list[Candidate], protocol: Protocol) -> Candidate | None:
    usable = [c for c in candidates if c.protocol == protocol and c.verified]
    # Implicit TLS first (RFC 8314), then the order found (SRV priority, autoconfig).
    usable.sort(key=lambda c: c.security != "tls")
    return usable[0] if usable else None


def proposal(findings: Findings) -> str | None:
    imap, smtp = _best(findings.candidates, "imap"), _best(findings.candidates, "smtp")
    if imap is None or smtp is None:
        return None
    lines = [f'[domains."{findings.domain}"]']
    for name, c in (("imap", imap), ("smtp", smtp)):
        lines.append(f'{name}_host = "{c.host}"')
        lines.append(f"{name}_port = {c.port}")
        lines.append(f'{name}_security = "{c.security}"')
        if c.port != MAIL_PORTS[name][c.security]:
            lines.append(f"# {name}_port is not the standard port: needs upstream.allow_any_port")
    return "\n".join(lines) + "\n"


async def discover(domain: str, options: DiscoverOptions) -> Findings:
    findings = Findings(domain)
    dns_ = Dns(options)
    policy = AddressPolicy(options.allow_networks)
    await _srv_candidates(dns_, findings)
    for url in (
        f"https://autoconfig.{domain}/mail/config-v1.1.xml",
        f"https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    ):
        body = await _fetch_autoconfig(url, dns_, options, policy, findings)
        if body is not None:
            _parse_autoconfig(body, f"autoconfig {url}", findings)
    seen: set[tuple[str, str, int, str]] = set()
    unique = []
    for c in findings.candidates:
        key = (c.protocol, c.host, c.port, c.security)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    findings.candidates = unique
    await asyncio.gather(*(_probe(c, dns_, policy, options) for c in unique))
    for c in unique:
        findings.note(f"probe {c.protocol} {c.host}:{c.port} ({c.security}): {c.detail}")
    return findings


async def run_discover(domain: str, options: DiscoverOptions, out: TextIO | None = None) -> int:
    """Print the evidence and a proposed entry; 0 when IMAP and SMTP were both verified."""
    out = out or sys.stdout
    normalized = normalize_domain(domain.strip().lower())
    if normalized is None:
        print(f"not a domain name: {domain!r}", file=out)
        return 2
    findings = await discover(normalized, options)
    print(f"# mailgate discover {normalized}: evidence", file=out)
    for line in findings.evidence:
        print(f"#   {line}", file=out)
    entry = proposal(findings)
    if entry is None:
        print("# no proposal: no verified IMAP and submission server were found", file=out)
        return 1
    print("# proposed entry (review before use):", file=out)
    print(entry, file=out, end="")
    if options.write:
        with open(options.write, "w", encoding="utf-8") as fh:
            fh.write(entry)
        print(f"# written to {options.write}", file=out)
    return 0
