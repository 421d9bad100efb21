"""pymap's in-memory (dict) IMAP backend, run in-process with STARTTLS.

Users and messages are created through pymap's own backend API, the same calls its demo loader
uses: ``Identity.set(UserMetadata(...))`` registers a login with a hashed password, and
``Identity.new_session()`` yields the user's ``MailboxSet`` whose ``MailboxData.append`` stores a
message. No demo data is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import uuid
from argparse import Namespace
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from proxyprotocol.sock import SocketInfoLocal
from pymap.backend.dict import Config, Identity, Login
from pymap.backend.dict.mailbox import MailboxData
from pymap.concurrent import Subsystem
from pymap.imap import IMAPServer
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials.flag import Flag, Recent, get_system_flags
from pymap.user import Passwords, UserMetadata

__all__ = ["DEFAULT_MAILBOXES", "SandboxIMAP"]

_log = logging.getLogger(__name__)

#: Mailboxes every sandbox user gets besides INBOX.
DEFAULT_MAILBOXES: tuple[str, ...] = ("Sent", "Drafts", "Trash")


# Real servers (Dovecot, Cyrus) keep keywords; pymap's dict backend keeps the system flags
# only, so $MDNSent (RFC 3503: a read receipt was answered) and $Forwarded (a forward was
# sent) would be lost. The sandbox keeps them.
_KEPT_KEYWORDS = frozenset({Flag(b"$MDNSent"), Flag(b"$Forwarded")})


def _permanent_flags(self: MailboxData) -> frozenset[Flag]:
    return (get_system_flags() - {Recent}) | _KEPT_KEYWORDS


setattr(MailboxData, "permanent_flags", property(_permanent_flags))  # noqa: B010


class _SandboxConfig(Config):
    """The dict backend's config with a fixed greeting (pymap's default does a DNS lookup)."""

    @property
    def greeting(self) -> bytes:
        return b"Server ready mailgate sandbox"


class _UntrustedSocketInfo(SocketInfoLocal):
    """Connection info that never counts as "from localhost".

    pymap treats loopback peers as secure and offers LOGIN before STARTTLS; the sandbox must
    behave like a remote server, so clients have to upgrade before sending credentials.
    """

    __slots__ = ()

    @property
    def from_localhost(self) -> bool:
        return False


def _internal_date(raw: bytes) -> datetime:
    """The Date header as the INTERNALDATE, falling back to now (UTC)."""
    header = BytesHeaderParser().parsebytes(raw, headersonly=True).get("Date")
    if header is not None:
        with contextlib.suppress(TypeError, ValueError):
            when = parsedate_to_datetime(str(header))
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return datetime.now(UTC)


class SandboxIMAP:
    """An in-memory IMAP server on 127.0.0.1 (and ::1 when available) offering STARTTLS.

    Logins are refused before STARTTLS (pymap offers no SASL mechanism and no LOGIN on a
    cleartext connection when TLS is enabled).
    """

    def __init__(self, ssl_context: ssl.SSLContext, *, port: int = 0) -> None:
        self._ssl_context = ssl_context
        self._requested_port = port
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-imap")
        self._config: _SandboxConfig | None = None
        self._login: Login | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def _make_config(self) -> _SandboxConfig:
        # pymap's config reads a few attributes from its command-line namespace.
        args = Namespace(
            debug=False,
            passlib_cfg=None,
            proxy_protocol=None,
            inherited_sockets=None,
            tls=True,
            host=None,
            port=None,
            cert=None,
            key=None,
        )
        return _SandboxConfig(
            args,
            host="127.0.0.1",
            port=self._requested_port,
            ssl_context=self._ssl_context,
            tls_enabled=True,
            demo_data=False,
            # The dict backend insists on naming a demo user; this one is never created.
            demo_user=f"nobody-{secrets.token_hex(8)}",
            demo_password=secrets.token_urlsafe(24),
            cpu_subsystem=Subsystem.for_threading(self._executor),
            reject_dnsbl=False,
        )

    async def start(self) -> None:
        """Listen on 127.0.0.1 (port chosen by the kernel unless given) and ::1 if possible."""
        config = self._make_config()
        config.apply_context()
        self._config = config
        self._login = Login(config)
        imap_server = IMAPServer(self._login, config)

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Track connections so stop() can close them.
            self._writers.add(writer)
            try:
                await imap_server(
                    reader, writer, _UntrustedSocketInfo(writer, unique_id=uuid.uuid4().bytes)
                )
            finally:
                self._writers.discard(writer)

        server = await asyncio.start_server(on_connect, host="127.0.0.1", port=self._requested_port)
        self._servers.append(server)
        self.port = int(server.sockets[0].getsockname()[1])
        try:
            self._servers.append(await asyncio.start_server(on_connect, host="::1", port=self.port))
        except OSError:
            _log.debug("sandbox IMAP: no IPv6 loopback listener")

    async def stop(self) -> None:
        """Close the listeners and every open connection."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- users and messages ---------------------------------------------------------------------

    def _identity(self, email_addr: str) -> Identity:
        if self._login is None:
            raise RuntimeError("sandbox IMAP server is not started")
        return Identity(email_addr, self._login, None, frozenset())

    async def add_user(
        self, email_addr: str, password: str, mailboxes: Iterable[str] = DEFAULT_MAILBOXES
    ) -> None:
        """Create (or re-password) a login with INBOX plus ``mailboxes``, all subscribed."""
        assert self._config is not None
        hashed = await Passwords(self._config).hash_password(password)
        user = UserMetadata(
            self._config,
            email_addr,
            password=hashed,
            # REPLACE_ANY lets a second add_user() change the password of an existing login.
            previous_entity_tag=UserMetadata.REPLACE_ANY,
        )
        await self._identity(email_addr).set(user)
        for name in mailboxes:
            await self.ensure_mailbox(email_addr, name)

    def has_user(self, email_addr: str) -> bool:
        """Whether ``email_addr`` is a sandbox login."""
        return self._login is not None and email_addr in self._login.users_dict

    def check_password(self, email_addr: str, password: str) -> bool:
        """Verify a password against pymap's stored hash (used by the SMTP server's AUTH)."""
        if self._login is None:
            return False
        user = self._login.users_dict.get(email_addr)
        return user is not None and user.compare_secret(password)

    async def ensure_mailbox(self, email_addr: str, mailbox: str) -> None:
        """Create ``mailbox`` for the user if it does not exist yet, and subscribe it."""
        if mailbox.upper() == "INBOX":
            return
        async with self._identity(email_addr).new_session() as session:
            with contextlib.suppress(ValueError):  # ValueError: it already exists
                await session.mailbox_set.add_mailbox(mailbox)
            await session.mailbox_set.set_subscribed(mailbox, True)

    async def deliver(
        self,
        email_addr: str,
        raw: bytes,
        mailbox: str = "INBOX",
        flags: Sequence[str] = (),
        when: datetime | None = None,
    ) -> int:
        """Append ``raw`` to the user's ``mailbox`` (created if needed); return the new UID.

        ``flags`` are IMAP flags such as ``"\\Seen"``; the internal date defaults to the
        message's Date header.
        """
        await self.ensure_mailbox(email_addr, mailbox)
        async with self._identity(email_addr).new_session() as session:
            target = await session.mailbox_set.get_mailbox(mailbox)
            message = AppendMessage(
                raw,
                when or _internal_date(raw),
                frozenset(Flag(flag) for flag in flags),
            )
            appended = await target.append(message, recent=not flags)
            return int(appended.uid)
