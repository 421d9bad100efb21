"""The embedded sandbox: in-memory IMAP (pymap) and SMTP (aiosmtpd) on TLS, one local CA.

Used by ``mailgate demo`` and ``mailgate.testing``. Clients connect to host name
``localhost`` and verify the certificates against ``ca_file``. With ``image_host=True`` a
local HTTPS image host serves the seeded newsletters' remote images too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType

from .ca import LocalCA
from .images import SandboxImageHost
from .imap import DEFAULT_MAILBOXES, SandboxIMAP
from .seed import demo_messages
from .smtp import ReceivedMail, SandboxSMTP

__all__ = [
    "LocalCA",
    "ReceivedMail",
    "Sandbox",
    "SandboxIMAP",
    "SandboxImageHost",
    "SandboxSMTP",
    "demo_messages",
]

_HOSTNAMES = ("localhost", "127.0.0.1", "::1")


class Sandbox:
    """IMAP with STARTTLS plus SMTP submission (implicit TLS by default) sharing one user set.

    ``smtp_starttls=True`` makes the submission server STARTTLS-mandatory instead;
    ``refuse_recipients`` lists addresses the SMTP server answers 550 for.
    """

    imap_host = "localhost"
    imap_security = "starttls"
    smtp_host = "localhost"

    def __init__(
        self,
        *,
        smtp_starttls: bool = False,
        refuse_recipients: Iterable[str] = (),
        imap_port: int = 0,
        smtp_port: int = 0,
        image_host: bool = False,
    ) -> None:
        self.ca = LocalCA()
        self.ca_file = self.ca.ca_pem_path
        self.imap = SandboxIMAP(self.ca.server_context(*_HOSTNAMES), port=imap_port)
        self.smtp = SandboxSMTP(
            self.ca.server_context(*_HOSTNAMES),
            self.imap.check_password,
            deliver_local=self._deliver_local,
            starttls=smtp_starttls,
            refuse_recipients=refuse_recipients,
            port=smtp_port,
        )
        self.smtp_security = self.smtp.security
        self.images = SandboxImageHost(self.ca.server_context(*_HOSTNAMES)) if image_host else None
        self._started = False

    @property
    def imap_port(self) -> int:
        return self.imap.port

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    async def start(self) -> None:
        """Start both servers."""
        if self._started:
            return
        await self.imap.start()
        try:
            await self.smtp.start()
            if self.images is not None:
                await self.images.start()
        except BaseException:
            await self.smtp.stop()
            await self.imap.stop()
            raise
        self._started = True

    async def stop(self) -> None:
        """Stop both servers and delete the CA's files."""
        if self._started:
            self._started = False
            if self.images is not None:
                await self.images.stop()
            await self.smtp.stop()
            await self.imap.stop()
        self.ca.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def add_user(self, email: str, password: str, *, seed: bool = False) -> None:
        """Create a login with INBOX, Sent, Drafts and Trash; ``seed`` fills in demo mail."""
        await self.imap.add_user(email, password, DEFAULT_MAILBOXES)
        if seed:
            base = self.images.url("") if self.images is not None else None
            for mailbox, raw, flags in demo_messages(email, image_base=base):
                await self.imap.deliver(email, raw, mailbox, flags)

    async def deliver(
        self, email: str, raw: bytes, mailbox: str = "INBOX", flags: Sequence[str] = ()
    ) -> int:
        """Append a message to a user's mailbox (created if needed); return its UID."""
        return await self.imap.deliver(email, raw, mailbox, flags)

    async def _deliver_local(self, rcpt: str, raw: bytes) -> bool:
        """SMTP's local delivery: into the INBOX when the recipient is a sandbox user."""
        if not self.imap.has_user(rcpt):
            return False
        await self.imap.deliver(rcpt, raw, "INBOX", when=datetime.now(UTC))
        return True
