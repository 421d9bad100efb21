"""`mailgate check`: validate a configuration and reach the upstream servers; and the
container's loopback health check.

The report has one line per check, ✓ or ✗ (green or red when stdout is a terminal), and
the exit code is non-zero when any check failed. It names settings and server host
names, never an account. Heavy imports are inside the checks so that `healthcheck()`,
which the container runs every 30 seconds, stays cheap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import json
import os
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from mailgate.config import Config, ConfigError, load_config
from mailgate.mail.upstreams import Endpoint, Upstream, UpstreamDirectory
from mailgate.tls import server_context, upstream_context

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

__all__ = ["CheckAccount", "Report", "healthcheck", "run_check"]

# Upstream probes give up after this long even if the configured timeout is longer.
_PROBE_TIMEOUT_S = 10.0
# A certificate closer than this to expiry gets a warning (still a pass).
_EXPIRY_WARNING = dt.timedelta(days=14)
# Mozilla's recommended_certificate_lifespan (Let's Encrypt issues for exactly 90 days).
_LIFETIME_ADVICE = dt.timedelta(days=90, minutes=1)


@dataclass
class Report:
    """Collects and prints check lines; colour only on a terminal."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    failures: int = 0

    def _colour(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty()) and "NO_COLOR" not in os.environ

    def _line(self, mark: str, colour: str, name: str, detail: str) -> None:
        text = f"{mark} {name}: {detail}"
        if self._colour():
            text = f"\033[{colour}m{text}\033[0m"
        print(text, file=self.out, flush=True)

    def ok(self, name: str, detail: str) -> None:
        self._line("✓", "32", name, detail)

    def warn(self, name: str, detail: str) -> None:
        self._line("!", "33", name, detail)

    def fail(self, name: str, detail: str) -> None:
        self.failures += 1
        self._line("✗", "31", name, detail)


def _check_certificate(config: Config, report: Report) -> None:
    from cryptography import x509

    cert_file, key_file = config.tls.cert_file, config.tls.key_file
    for name, path in (("tls.cert_file", cert_file), ("tls.key_file", key_file)):
        if not os.path.isfile(path):
            report.fail(name, f"{path}: file not found")
            return
        if not os.access(path, os.R_OK):
            report.fail(name, f"{path}: not readable by this user")
            return
    try:
        server_context(cert_file, key_file)
    except ssl.SSLError as exc:
        mismatch = "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc)
        why = "the key does not match the certificate" if mismatch else "cannot be loaded"
        report.fail("tls", f"{cert_file} / {key_file}: {why}")
        return
    try:
        with open(cert_file, "rb") as fh:
            leaf = x509.load_pem_x509_certificates(fh.read())[0]
    except ValueError:
        report.fail("tls.cert_file", f"{cert_file}: not a PEM certificate")
        return
    now = dt.datetime.now(dt.UTC)
    until = leaf.not_valid_after_utc
    if now < leaf.not_valid_before_utc:
        report.fail("tls.cert_file", f"not valid before {leaf.not_valid_before_utc:%Y-%m-%d}")
    elif now > until:
        report.fail("tls.cert_file", f"expired on {until:%Y-%m-%d}")
    else:
        names = _dns_names(leaf)
        detail = f"certificate and key match, valid until {until:%Y-%m-%d}"
        if names:
            detail += f", for {', '.join(names[:4])}"
        advice = _certificate_advice(leaf)
        if until - now < _EXPIRY_WARNING:
            advice.insert(0, "expires soon")
        if advice:
            report.warn("tls.cert_file", f"{detail} ({'; '.join(advice)})")
        else:
            report.ok("tls", detail)


def _certificate_advice(leaf: Certificate) -> list[str]:
    """What Mozilla's TLS guidelines (SEC-35) would change about a working certificate:
    an ECDSA P-256/P-384 or RSA-2048+ key, and a lifetime of at most 90 days."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    advice: list[str] = []
    key = leaf.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            advice.append(f"an {key.curve.name} key; ECDSA P-256 is recommended")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            advice.append(f"a {key.key_size}-bit RSA key; at least 2048 bits")
    else:
        advice.append("neither an ECDSA nor an RSA key; ECDSA P-256 is recommended")
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    if lifetime > _LIFETIME_ADVICE:
        advice.append(f"issued for {lifetime.days} days; at most 90 are recommended")
    return advice


def _dns_names(cert: Certificate) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return san.value.get_values_for_type(x509.DNSName)


def _upstream_ssl(config: Config, report: Report) -> ssl.SSLContext | None:
    ca_file = config.upstream.ca_file
    try:
        ctx = upstream_context(ca_file or None)
    except (OSError, ssl.SSLError):
        report.fail("upstream.ca_file", f"{ca_file}: cannot be loaded as a PEM CA bundle")
        return None
    if ca_file:
        report.ok("upstream.ca_file", f"{ca_file} loaded")
    return ctx


# The IMAP extensions mailgate uses when a server has them, as `mailgate check` lists them.
_IMAP_EXTENSIONS = (
    "IDLE",
    "MOVE",
    "UIDPLUS",
    "SPECIAL-USE",
    "SORT",
    "THREAD=REFERENCES",
    "ESORT",
    "CONDSTORE",
    "QRESYNC",
    "QUOTA",
    "PREVIEW",
)


@dataclass(frozen=True)
class CheckAccount:
    """An account `mailgate check --account` logs in with, to see what a user's session sees."""

    address: str
    password: str


def _label(protocol: str, upstream: Upstream) -> str:
    return f"{protocol} [{upstream.name}]" if upstream.name else protocol


async def _check_imap(
    upstream: Upstream,
    timeout_s: float,
    ctx: ssl.SSLContext,
    report: Report,
    account: CheckAccount | None,
) -> None:
    from mailgate.mail.imap.errors import (
        ImapAuthError,
        ImapError,
        ImapTlsError,
        ImapUnavailable,
    )
    from mailgate.mail.imap.protocol import ImapConnection

    imap, name = upstream.imap, _label("imap", upstream)
    where = f"{imap.host}:{imap.port} ({imap.security})"
    timeout = min(timeout_s, _PROBE_TIMEOUT_S)
    try:
        conn = await ImapConnection.open(imap.host, imap.port, imap.security, ctx, timeout=timeout)
    except ImapTlsError as exc:
        report.fail(name, f"{where}: no verified TLS ({exc.reason})")
        return
    except ImapUnavailable as exc:
        report.fail(name, f"{where}: cannot connect ({exc.reason})")
        return
    except ImapError as exc:
        report.fail(name, f"{where}: {exc}")
        return
    except (OSError, TimeoutError) as exc:
        report.fail(name, f"{where}: cannot connect ({type(exc).__name__})")
        return
    caps = set(conn.capabilities)
    if "LOGINDISABLED" in caps:
        await conn.logout()
        report.fail(name, f"{where}: TLS verified, but the server refuses LOGIN")
        return
    extras = [c for c in _IMAP_EXTENSIONS if c in caps]
    report.ok(name, f"{where}: TLS verified; extensions: {', '.join(extras) or 'none'}")
    if account is None:
        await conn.logout()
        return
    # Servers often announce more after login (Dovecot: SORT, THREAD, QUOTA...).
    try:
        async with asyncio.timeout(timeout):
            await conn.login(account.address, account.password)
        after = [c for c in _IMAP_EXTENSIONS if conn.has(c)]
        report.ok(f"{name} after login", f"extensions: {', '.join(after) or 'none'}")
    except ImapAuthError:
        report.fail(f"{name} after login", "the account's login was refused")
    except (ImapError, OSError, TimeoutError) as exc:
        report.fail(f"{name} after login", f"failed ({type(exc).__name__})")
    finally:
        try:
            await conn.logout()
        except (ImapError, OSError, TimeoutError):
            conn.close()


async def _check_smtp(
    upstream: Upstream, timeout_s: float, ctx: ssl.SSLContext, report: Report
) -> None:
    import aiosmtplib

    smtp: Endpoint = upstream.smtp
    name = _label("smtp", upstream)
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        local_hostname="localhost",
        timeout=min(timeout_s, _PROBE_TIMEOUT_S),
        use_tls=smtp.security == "tls",
        start_tls=smtp.security == "starttls",  # mandatory, never opportunistic
        validate_certs=True,
        tls_context=ctx,
    )
    try:
        try:
            await client.connect()
        except aiosmtplib.SMTPConnectError as exc:
            tls = isinstance(exc.__cause__, ssl.SSLError | ssl.CertificateError)
            report.fail(name, f"{where}: {'no verified TLS' if tls else 'cannot connect'}")
            return
        except (ssl.SSLError, ssl.CertificateError):
            report.fail(name, f"{where}: no verified TLS (handshake or certificate failed)")
            return
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            report.fail(name, f"{where}: cannot connect (timeout)")
            return
        except (aiosmtplib.SMTPException, OSError) as exc:
            if smtp.security == "starttls":
                report.fail(name, f"{where}: no verified TLS (STARTTLS missing or refused)")
            else:
                report.fail(name, f"{where}: cannot connect ({type(exc).__name__})")
            return
        if client.get_transport_info("sslcontext") is None or not client.get_transport_info(
            "peercert"
        ):
            report.fail(name, f"{where}: no verified TLS")
            return
        try:
            await client.ehlo()
            methods = sorted(client.server_auth_methods)
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            report.fail(name, f"{where}: EHLO failed ({type(exc).__name__})")
            return
        if not methods:
            report.fail(name, f"{where}: TLS verified, but no AUTH mechanism is offered")
            return
        report.ok(name, f"{where}: TLS verified; AUTH {' '.join(methods).upper()}")
    finally:
        client.close()


async def _check_sieve(
    upstream: Upstream, timeout_s: float, ctx: ssl.SSLContext, report: Report
) -> None:
    from mailgate.mail.sieve import SieveConnection, SieveError, SieveTlsError

    assert upstream.sieve is not None
    sieve, name = upstream.sieve, _label("sieve", upstream)
    where = f"{sieve.host}:{sieve.port} ({sieve.security})"
    timeout = min(timeout_s, _PROBE_TIMEOUT_S)
    try:
        conn = await SieveConnection.open(
            sieve.host, sieve.port, sieve.security, ctx, timeout=timeout
        )
    except SieveTlsError as exc:
        report.fail(name, f"{where}: no verified TLS ({exc.reason})")
        return
    except SieveError as exc:
        report.fail(name, f"{where}: cannot connect ({exc.reason})")
        return
    caps = conn.capabilities
    await conn.logout()
    if "PLAIN" not in caps.sasl:
        report.fail(name, f"{where}: TLS verified, but SASL PLAIN is not offered")
        return
    extras = [e for e in ("vacation", "fileinto", "imap4flags", "date") if e in caps.sieve]
    report.ok(name, f"{where}: TLS verified; extensions: {', '.join(extras) or 'none'}")


async def _check_store(config: Config, report: Report) -> None:
    if config.store.backend != "redis":
        report.ok("store", "memory (one instance; sessions end at restart)")
        return
    from mailgate.store.interface import StoreError
    from mailgate.store.redis import RedisStore

    store = RedisStore(config.store)
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            await store.ping()
        report.ok("store", "redis reachable")
    except (StoreError, OSError, TimeoutError) as exc:
        report.fail("store", f"redis not reachable ({type(exc).__name__})")
    finally:
        await store.close()


async def run_check(
    config_path: str | None,
    *,
    out: TextIO | None = None,
    account: CheckAccount | None = None,
) -> int:
    """Run every check and print the report; 0 when all passed, 1 otherwise. Every
    upstream of the domain map is checked; with `account`, its own IMAP server is also
    logged in to, to report the capabilities a session sees."""
    report = Report(out or sys.stdout)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        report.fail("configuration", str(exc))
        return 1
    report.ok("configuration", f"{config_path or 'environment'}: valid")
    _check_certificate(config, report)
    ctx = _upstream_ssl(config, report)
    if ctx is not None:
        directory = UpstreamDirectory(config)
        own = directory.for_address(account.address) if account is not None else None
        if account is not None and own is None:
            report.fail("account", "no upstream of this configuration serves its domain")
        for upstream in directory.all():
            login_as = account if own is not None and upstream == own else None
            await _check_imap(upstream, config.imap.timeout_s, ctx, report, login_as)
            await _check_smtp(upstream, config.smtp.timeout_s, ctx, report)
            if upstream.sieve is not None:
                await _check_sieve(upstream, config.sieve.timeout_s, ctx, report)
    await _check_store(config, report)
    summary = "all checks passed" if not report.failures else f"{report.failures} problem(s)"
    print(summary, file=report.out, flush=True)
    return 1 if report.failures else 0


def _loopback(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host


def healthcheck(
    config_path: str | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 4.0,
) -> int:
    """GET /healthz on this host's own listener over HTTPS; 0 when healthy.

    The server must present exactly the configured certificate: the configured file is
    the only trust anchor and the leaf is pinned, so no verification is skipped, and the
    check also fails once that certificate has expired.
    """
    try:
        config = load_config(config_path, environ)
        cert_file = config.tls.cert_file
        ctx = ssl.create_default_context(cafile=cert_file)
        with open(cert_file, encoding="ascii") as fh:
            pinned = ssl.PEM_cert_to_DER_cert(fh.read())
    except (ConfigError, OSError, ssl.SSLError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    # The configured leaf may not be a CA; trust it as it is, not only its root.
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    # Loopback has no host name to check; the pin below is stricter than one.
    ctx.check_hostname = False
    public = config.server.public_url.removeprefix("https://").split("/")[0]
    host_header = public or f"localhost:{config.server.port}"
    conn = http.client.HTTPSConnection(
        _loopback(config.server.host), config.server.port, timeout=timeout, context=ctx
    )
    try:
        conn.connect()
        sock = conn.sock
        assert isinstance(sock, ssl.SSLSocket)  # HTTPSConnection.connect wraps it in TLS
        if sock.getpeercert(binary_form=True) != pinned:
            print("unhealthy: the listener presents another certificate", file=sys.stderr)
            return 1
        conn.request("GET", "/healthz", headers={"Host": host_header})
        response = conn.getresponse()
        body = response.read(4096)
        if response.status != 200 or json.loads(body).get("status") != "ok":
            print(f"unhealthy: /healthz answered {response.status}", file=sys.stderr)
            return 1
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        print(f"unhealthy: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0
