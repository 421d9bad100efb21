"""Submit a built message over SMTP with implicit TLS or mandatory STARTTLS.

Uses aiosmtplib for the connection, TLS, EHLO, AUTH and envelope. The DATA
section is streamed from `BuiltMessage.chunks()` with bounded memory: after
aiosmtplib's public `execute_command(b"DATA")` gets its 354, the body is
written through the connection's `SMTPProtocol.write()` with our own
dot-stuffing (RFC 5321 §4.5.2, correct across chunk boundaries), waiting for
the transport's write buffer to drain between chunks, and the final reply is
read with the protocol's `read_response()`. aiosmtplib's own `data()` needs
the whole message as one bytes object and copies it twice more.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import ssl
from typing import Literal

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol

from mailgate.errors import (
    AuthFailed,
    SenderRefused,
    UpstreamRejected,
    UpstreamTlsFailed,
    UpstreamUnavailable,
)
from mailgate.mail.compose import BuiltMessage
from mailgate.mail.sasl import BEARER_MECHANISMS, bearer_message

__all__ = ["DotStuffer", "sanitize_reply", "submit"]

log = logging.getLogger(__name__)

# Sent as the EHLO name: socket.getfqdn() (aiosmtplib's default) would
# announce this machine's name in the Received header the server adds.
DEFAULT_EHLO_NAME = "localhost"
_REASON_LIMIT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")
# PLAIN is the standard mechanism over TLS; one mechanism means one failed
# attempt on a wrong password, not three (aiosmtplib's login() tries all).
_AUTH_PREFERENCE = ("plain", "login", "cram-md5")
# Room for an initial response on the AUTH line itself (RFC 4954 §4: 512-octet lines).
_INITIAL_RESPONSE_MAX = 480
_HIGH_WATER = 256 * 1024


def sanitize_reply(message: str) -> str:
    """One line of server text: controls removed, addresses masked, at most 200 chars."""
    line = _CONTROL.sub(" ", message or "").strip()
    # Servers often echo the recipient; our error messages must be safe to log.
    line = _ADDRESS.sub("<address>", line)
    line = re.sub(r" {2,}", " ", line)
    return line[:_REASON_LIMIT]


class DotStuffer:
    """Dot-stuffs a CRLF byte stream fed in arbitrary chunks (RFC 5321 §4.5.2)."""

    def __init__(self) -> None:
        self._at_line_start = True

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        out = chunk.replace(b"\n.", b"\n..")
        if self._at_line_start and chunk.startswith(b"."):
            out = b"." + out
        self._at_line_start = chunk.endswith(b"\n")
        return out

    def finish(self) -> bytes:
        """The end-of-data sequence, completing a last line that lacks its CRLF."""
        return b".\r\n" if self._at_line_start else b"\r\n.\r\n"


def _rejected(code: int, message: str, what: str) -> UpstreamRejected:
    detail = " ".join(str(p) for p in (code, sanitize_reply(message)) if p)
    exc = UpstreamRejected(f"The mail server refused {what} ({detail}).")
    exc.smtp_code = code
    return exc


async def _drain(protocol: SMTPProtocol, transport: asyncio.BaseTransport | None) -> None:
    """Wait until the socket has taken most of what we wrote (flow control)."""
    helper = getattr(protocol, "_drain_helper", None)
    if helper is not None:
        # FlowControlMixin's StreamWriter.drain() hook: waits while paused.
        await helper()
        return
    while isinstance(transport, asyncio.WriteTransport) and (
        transport.get_write_buffer_size() > _HIGH_WATER
    ):
        await asyncio.sleep(0.005)


async def _send_data(
    client: aiosmtplib.SMTP, message: BuiltMessage, timeout: float
) -> aiosmtplib.SMTPResponse:
    """DATA with the body streamed; raises if the server does not answer 354/250."""
    start = await client.execute_command(b"DATA", timeout=timeout)
    if start.code != 354:
        raise _rejected(start.code, start.message, "the message")
    protocol = client.protocol
    if protocol is None:
        raise UpstreamUnavailable("The mail server closed the connection while sending.")
    stuffer = DotStuffer()
    async for chunk in message.chunks(include_bcc=False):
        protocol.write(stuffer.feed(chunk))
        await asyncio.wait_for(_drain(protocol, client.transport), timeout)
    protocol.write(stuffer.finish())
    # No await between the write and read_response() arming its waiter, so
    # the reply cannot arrive unobserved.
    return await protocol.read_response(timeout=timeout)


def _check_context(ssl_context: ssl.SSLContext) -> None:
    # SEC-37: there is no "accept anyway"; a non-verifying context is a bug.
    if ssl_context.verify_mode != ssl.CERT_REQUIRED or not ssl_context.check_hostname:
        raise ValueError("the upstream TLS context must verify the certificate and host name")


async def _connect(client: aiosmtplib.SMTP, security: str) -> None:
    """Connect and establish TLS; map every failure before AUTH to our errors."""
    try:
        await client.connect()
    except aiosmtplib.SMTPConnectError as exc:
        if isinstance(exc.__cause__, ssl.SSLError | ssl.CertificateError):
            raise UpstreamTlsFailed() from None
        raise UpstreamUnavailable() from None
    except (ssl.SSLError, ssl.CertificateError):
        raise UpstreamTlsFailed() from None
    except (aiosmtplib.SMTPTimeoutError, TimeoutError):
        raise UpstreamUnavailable() from None
    except (aiosmtplib.SMTPException, OSError):
        # With STARTTLS: not offered, refused (e.g. 454), or the upgrade broke.
        if security == "starttls":
            raise UpstreamTlsFailed() from None
        raise UpstreamUnavailable() from None
    # Belt and braces: never go on to AUTH unless the transport really is TLS.
    if client.get_transport_info("sslcontext") is None or not client.get_transport_info("peercert"):
        raise UpstreamTlsFailed()


async def _authenticate_bearer(
    client: aiosmtplib.SMTP, username: str, token: str, host: str, port: int
) -> None:
    """AUTH with an OAuth access token: OAUTHBEARER (RFC 7628), else XOAUTH2, as an
    initial response (RFC 4954). An error challenge (334) gets the mechanism's dummy
    answer, after which the server's refusal follows."""
    offered = {m.upper() for m in client.server_auth_methods}
    mechanism = next((m for m in BEARER_MECHANISMS if m in offered), None)
    if mechanism is None:
        raise UpstreamRejected("The mail server offers no sign-in method this server can use.")
    initial = base64.b64encode(bearer_message(mechanism, username, token, host, port))
    if len(initial) <= _INITIAL_RESPONSE_MAX:
        response = await client.execute_command(b"AUTH", mechanism.encode("ascii"), initial)
    else:
        # RFC 4954 §4: a command line is at most 512 octets; a longer initial response
        # (a JWT usually is) goes on its own line after an empty challenge.
        response = await client.execute_command(b"AUTH", mechanism.encode("ascii"))
        if response.code != 334:
            raise AuthFailed()
        response = await client.execute_command(initial)
    if response.code == 334:
        dummy = b"AQ==" if mechanism == "OAUTHBEARER" else b""
        response = await client.execute_command(dummy)
    if response.code != 235:
        raise AuthFailed()


async def _authenticate(client: aiosmtplib.SMTP, username: str, password: str) -> None:
    offered = client.server_auth_methods
    mechanism = next((m for m in _AUTH_PREFERENCE if m in offered), None)
    if mechanism is None:
        raise UpstreamRejected("The mail server offers no sign-in method this server can use.")
    method = getattr(client, f"auth_{mechanism.replace('-', '')}")
    try:
        await method(username, password)
    except aiosmtplib.SMTPAuthenticationError:
        raise AuthFailed() from None


async def _transaction(
    client: aiosmtplib.SMTP,
    message: BuiltMessage,
    envelope_from: str,
    recipients: list[str],
    timeout: float,
) -> None:
    options = []
    if client.supports_extension("size"):
        options.append(f"SIZE={message.length(False)}")
    try:
        await client.mail(envelope_from, options=options, timeout=timeout)
    except aiosmtplib.SMTPSenderRefused as exc:
        if exc.code in (550, 553) or exc.message.lstrip().startswith("5.7."):
            # A permanent refusal of the envelope sender (RFC 5321 553, or a policy
            # 5.7.x): this login may not send as it. 552 (too large) is not that.
            not_allowed = SenderRefused()
            not_allowed.smtp_code = exc.code
            raise not_allowed from None
        raise _rejected(exc.code, exc.message, "the sender") from None
    refused: list[tuple[int, aiosmtplib.SMTPRecipientRefused]] = []
    for index, recipient in enumerate(recipients):
        try:
            await client.rcpt(recipient, timeout=timeout)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused.append((index, exc))
    if refused:
        # aiosmtplib's sendmail() would send to the accepted ones; we send to
        # all or none, so the user can fix the address and retry.
        # Closing the connection without DATA abandons the envelope too.
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.rset(timeout=timeout)
        _, first = refused[0]
        error = _rejected(first.code, first.message, "a recipient")
        error.refused_indexes = [i for i, _ in refused]
        raise error
    response = await _send_data(client, message, timeout)
    if response.code != 250:
        raise _rejected(response.code, response.message, "the message")


async def submit(
    message: BuiltMessage,
    *,
    envelope_from: str,
    recipients: list[str],
    host: str,
    port: int,
    security: Literal["tls", "starttls"],
    ssl_context: ssl.SSLContext,
    username: str,
    password: str,
    timeout: float,
    local_hostname: str = DEFAULT_EHLO_NAME,
    access_token: str = "",
) -> None:
    """Send `message` to `recipients` through the submission server; raise on failure.

    Raises UpstreamTlsFailed (no verified TLS; nothing was authenticated),
    UpstreamUnavailable, AuthFailed or UpstreamRejected (with the SMTP code
    and a sanitized reason; nothing was sent unless every recipient was taken).
    """
    if security not in ("tls", "starttls"):
        raise ValueError("security must be 'tls' or 'starttls'")
    if not recipients:
        raise ValueError("at least one recipient is required")
    _check_context(ssl_context)
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        local_hostname=local_hostname,
        timeout=timeout,
        use_tls=security == "tls",
        # True = mandatory; aiosmtplib's default None is opportunistic.
        start_tls=security == "starttls",
        validate_certs=True,
        tls_context=ssl_context,
    )
    await _connect(client, security)
    try:
        # RFC 3207 §4.2: after STARTTLS aiosmtplib forgot the old capabilities;
        # ask again over TLS (and always greet over TLS for implicit TLS).
        await client.ehlo()
        if access_token:
            await _authenticate_bearer(client, username, access_token, host, port)
        else:
            await _authenticate(client, username, password)
        await _transaction(client, message, envelope_from, recipients, timeout)
        # The message was accepted; a broken goodbye does not matter.
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit(timeout=timeout)
    except aiosmtplib.SMTPResponseException as exc:
        raise _rejected(exc.code, exc.message, "the request") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        # Connection lost or timed out mid-way; the server drops a partial DATA.
        log.info("smtp submission interrupted")
        raise UpstreamUnavailable(
            "The connection to the mail server broke before the message was accepted."
        ) from None
    finally:
        client.close()
