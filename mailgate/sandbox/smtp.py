"""An aiosmtpd submission server for the sandbox: TLS, AUTH PLAIN/LOGIN, local delivery.

The server runs on the caller's event loop (not in aiosmtpd's Controller thread), so accepted
mail can be appended to the in-process pymap mailboxes directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["ReceivedMail", "SandboxSMTP"]

_log = logging.getLogger(__name__)

#: Checks a login and password; returns True when they match.
PasswordCheck = Callable[[str, str], bool]
#: Delivers raw bytes into a local user's INBOX, when the recipient is local.
LocalDelivery = Callable[[str, bytes], Awaitable[bool]]


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted envelope, as the tests inspect it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    auth_login: str | None


class _Handler:
    """aiosmtpd handler: refuses configured recipients, records and delivers accepted mail."""

    def __init__(self, owner: SandboxSMTP) -> None:
        self._owner = owner

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        # As a submission server with a sender-login map does (Postfix's
        # reject_sender_login_mismatch): some addresses this login may not send from.
        if address.lower() in self._owner.refused_senders:
            return "553 5.7.1 Sender address rejected: not owned by user"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self._owner.refused_recipients:
            return "550 5.1.1 Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        auth = session.auth_data
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=bytes(content),
            auth_login=auth.login.decode("utf-8", "replace")
            if isinstance(auth, LoginPassword)
            else None,
        )
        self._owner.received.append(mail)
        if self._owner.deliver_local is not None:
            for rcpt in mail.rcpt_tos:
                await self._owner.deliver_local(rcpt, mail.content)
        return "250 2.0.0 Message accepted"


class _SMTP(SMTP):
    """aiosmtpd's SMTP that counts an implicit-TLS connection as TLS.

    aiosmtpd only recognises its own STARTTLS, so with implicit TLS and auth_require_tls=True
    it would hide and refuse AUTH (aio-libs/aiosmtpd#281, #274).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        ssl_protocol = getattr(transport, "_ssl_protocol", None)
        if self._tls_protocol is None and ssl_protocol is not None:
            self._tls_protocol = ssl_protocol


class SandboxSMTP:
    """Submission server on 127.0.0.1 (and ::1 if available).

    ``starttls=False`` (default): implicit TLS on connect (like port 465).
    ``starttls=True``: cleartext greeting with mandatory STARTTLS (like port 587).
    AUTH PLAIN/LOGIN is required before MAIL and only offered over TLS.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        check_password: PasswordCheck,
        *,
        deliver_local: LocalDelivery | None = None,
        starttls: bool = False,
        refuse_recipients: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self._ssl_context = ssl_context
        self._check_password = check_password
        self.deliver_local = deliver_local
        self.starttls = starttls
        self.refused_recipients: set[str] = {r.lower() for r in refuse_recipients}
        self.refused_senders: set[str] = set()
        self.received: list[ReceivedMail] = []
        self._requested_port = port
        self._servers: list[asyncio.AbstractServer] = []
        self._protocols: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self.port = 0

    @property
    def security(self) -> str:
        """``"tls"`` (implicit) or ``"starttls"``."""
        return "starttls" if self.starttls else "tls"

    def refuse(self, *recipients: str) -> None:
        """Make the server answer 550 to RCPT TO for these addresses from now on."""
        self.refused_recipients.update(r.lower() for r in recipients)

    def refuse_sender(self, *senders: str) -> None:
        """Make the server answer 553 to MAIL FROM with these addresses from now on."""
        self.refused_senders.update(s.lower() for s in senders)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if not self._check_password(login, password):
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, handled=False, auth_data=auth_data)

    def _factory(self) -> SMTP:
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = (
            {"tls_context": self._ssl_context, "require_starttls": True} if self.starttls else {}
        )
        protocol = _SMTP(
            _Handler(self),
            hostname="localhost",
            ident="mailgate sandbox ESMTP",
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=True,
            loop=loop,
            **tls,
        )
        self._protocols.add(protocol)
        return protocol

    async def start(self) -> None:
        """Start listening (port chosen by the kernel unless given)."""
        # aiosmtpd logs envelope addresses at INFO and a deprecation warning on every AUTH;
        # keep personal data and noise out of the logs unless the application decided otherwise.
        mail_log = logging.getLogger("mail.log")
        if mail_log.level == logging.NOTSET:
            mail_log.setLevel(logging.ERROR)
        loop = asyncio.get_running_loop()
        ssl_arg = None if self.starttls else self._ssl_context
        server = await loop.create_server(
            self._factory, host="127.0.0.1", port=self._requested_port, ssl=ssl_arg
        )
        self._servers.append(server)
        self.port = int(server.sockets[0].getsockname()[1])
        try:
            self._servers.append(
                await loop.create_server(self._factory, host="::1", port=self.port, ssl=ssl_arg)
            )
        except OSError:
            _log.debug("sandbox SMTP: no IPv6 loopback listener")

    async def stop(self) -> None:
        """Close the listeners and every open connection."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for protocol in list(self._protocols):
            if protocol.transport is not None:
                protocol.transport.close()
        self._protocols.clear()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
