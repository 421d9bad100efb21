"""Running the sandbox and mailgate for tests: real TLS, real servers, 127.0.0.1 only."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from mailgate.app import create_app
from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config
from mailgate.http.access_log import PrivateAccessLogger
from mailgate.http.server import HttpsSite, MailgateRunner
from mailgate.services import SERVICES, Services
from mailgate.session.reaper import REAPER
from mailgate.testing.clock import ManualClock, advance_and_sweep
from mailgate.testing.loop import LoopThread
from mailgate.tls import server_context

if TYPE_CHECKING:
    from mailgate.sandbox.ca import LocalCA

__all__ = ["RunningMailgate", "RunningSandbox", "free_port", "upstream_config"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RunningSandbox:
    """The embedded sandbox (pymap IMAP with STARTTLS, aiosmtpd submission on TLS) in
    a background thread. Safe to use from sync or async tests."""

    def __init__(self) -> None:
        from mailgate.sandbox import Sandbox

        self.thread = LoopThread("mailgate-sandbox")
        self.sandbox = Sandbox()
        self.thread.call(self.sandbox.start())

    @property
    def ca_file(self) -> str:
        return str(self.sandbox.ca_file)

    @property
    def ca(self) -> LocalCA:
        return self.sandbox.ca

    def add_user(self, email: str, password: str, *, seed: bool = False) -> None:
        self.thread.call(self.sandbox.add_user(email, password, seed=seed))

    def deliver(
        self, email: str, raw: bytes, mailbox: str = "INBOX", flags: tuple[str, ...] = ()
    ) -> None:
        self.thread.call(self.sandbox.deliver(email, raw, mailbox, flags))

    def settings(self) -> dict[str, dict[str, Any]]:
        """Config sections pointing mailgate at this sandbox."""
        sb = self.sandbox
        return {
            "imap": {"host": sb.imap_host, "port": sb.imap_port, "security": sb.imap_security},
            "smtp": {"host": sb.smtp_host, "port": sb.smtp_port, "security": sb.smtp_security},
            # The sandbox listens on free ports, not the standard mail ports.
            "upstream": {"ca_file": self.ca_file, "allow_any_port": True},
        }

    def close(self) -> None:
        try:
            self.thread.call(self.sandbox.stop())
        finally:
            self.thread.close()


def upstream_config(settings: dict[str, dict[str, Any]], **overrides: dict[str, Any]) -> Config:
    """A Config for tests: defaults, the upstream settings, then overrides."""
    config = Config()
    merged = {k: dict(v) for k, v in settings.items()}
    for section, values in overrides.items():
        merged.setdefault(section, {}).update(values)
    return config.replace(**merged)


@dataclass
class RunningMailgate:
    """mailgate serving HTTPS on 127.0.0.1 in a background thread."""

    config: Config
    ca: LocalCA | None = None
    # What its sessions, store, reaper and throttle read the time from (a ManualClock
    # lets a test move it; advancing it from the test's thread is safe).
    clock: Clock = SYSTEM_CLOCK
    thread: LoopThread = field(default_factory=lambda: LoopThread("mailgate-server"))
    port: int = 0
    url: str = ""
    app: web.Application | None = None
    _runner: web.AppRunner | None = None
    _owns_ca: bool = False

    def start(self) -> RunningMailgate:
        if self.ca is None:
            from mailgate.sandbox.ca import LocalCA

            self.ca = LocalCA()
            self._owns_ca = True
        cert, key = self.ca.issue("localhost", "127.0.0.1")
        self.port = self.port or free_port()
        config = self.config.replace(
            server={"host": "127.0.0.1", "port": self.port},
            tls={"cert_file": str(cert), "key_file": str(key)},
        )
        self.config = config
        self.thread.call(self._start(config, server_context(cert, key)))
        self.url = f"https://localhost:{self.port}"
        return self

    async def _start(self, config: Config, ssl_ctx: ssl.SSLContext) -> None:
        self.app = create_app(config, clock=self.clock)
        self._runner = MailgateRunner(
            self.app, access_log_class=PrivateAccessLogger, handle_signals=False
        )
        await self._runner.setup()
        site = HttpsSite(
            self._runner,
            "127.0.0.1",
            self.port,
            ssl_context=ssl_ctx,
            backlog=128,
            handshake_timeout_s=config.server.request_header_timeout_s,
        )
        await site.start()

    @property
    def services(self) -> Services:
        assert self.app is not None
        return self.app[SERVICES]

    async def advance(self, seconds: float) -> bool:
        """Move the ManualClock forward and wait for the reaper's sweep, if that ends
        its interval (the reaper runs on the server's thread)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs RunningMailgate(..., clock=ManualClock())")
        assert self.app is not None
        return await advance_and_sweep(self.clock, self.app[REAPER], seconds)

    @property
    def ca_file(self) -> str:
        assert self.ca is not None
        return str(self.ca.ca_pem_path)

    def client_ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return self.thread.call(coro, timeout)

    def stop(self) -> None:
        try:
            if self._runner is not None:
                self.thread.call(self._runner.cleanup())
        finally:
            self.thread.close()
            if self._owns_ca and self.ca is not None:
                self.ca.cleanup()
