"""mailgate's real application, served in the test's own event loop.

The app comes from `create_app` with every feature, middleware and signal the server
has; aiohttp's `TestServer` serves it on 127.0.0.1 over plain HTTP with our runner and
access log. No TLS, no background thread, no certificate to issue: for tests of the API
and the session rules that need no real HTTPS listener. Its services are reached
directly (same loop), and a `ManualClock` makes time move only when the test says.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from mailgate.app import create_app
from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config
from mailgate.http.access_log import PrivateAccessLogger
from mailgate.http.server import MailgateRunner
from mailgate.services import SERVICES, Services
from mailgate.session.reaper import REAPER
from mailgate.testing.client import ApiClient
from mailgate.testing.clock import ManualClock, advance_and_sweep
from mailgate.testing.servers import free_port

__all__ = ["InProcessMailgate"]


class _Server(TestServer):
    async def _make_runner(self, **kwargs: Any) -> web.BaseRunner:
        # The production runner: its answers to unparsable requests, our access log.
        return MailgateRunner(
            self.app, access_log_class=PrivateAccessLogger, handle_signals=False, **kwargs
        )


class InProcessMailgate:
    """`async with InProcessMailgate(config, clock=clock) as mg:` then `mg.client()`."""

    def __init__(self, config: Config, *, clock: Clock = SYSTEM_CLOCK) -> None:
        port = free_port()
        self.config = config.replace(server={"host": "127.0.0.1", "port": port})
        self.clock = clock
        self.port = port
        self.app = create_app(self.config, port=port, clock=clock)
        self._server = _Server(self.app, host="127.0.0.1", port=port)
        self._clients: list[ApiClient] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        """The origin the app's guards expect (it believes it is served over HTTPS)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        return self.app[SERVICES]

    async def advance(self, seconds: float) -> bool:
        """Move the ManualClock forward and wait for the reaper's sweep, if that ends
        its interval (see `advance_and_sweep`)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs InProcessMailgate(..., clock=ManualClock())")
        return await advance_and_sweep(self.clock, self.app[REAPER], seconds)

    def client(self) -> ApiClient:
        """A client like the bundled UI's (cookie, CSRF token, Origin); closed with us."""
        api = ApiClient(self.url, origin=self.origin)
        self._clients.append(api)
        return api

    async def start(self) -> InProcessMailgate:
        await self._server.start_server()
        return self

    async def close(self) -> None:
        for api in self._clients:
            await api.close()
        await self._server.close()  # runs the app's cleanup: the shutdown wipe

    async def __aenter__(self) -> InProcessMailgate:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
