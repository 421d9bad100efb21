"""The HTTPS listener (a TLS handshake bound) and the aiohttp runner with our answer to
requests that fail before routing.

aiohttp answers unparsable requests (too many headers, a bad URL, CL+TE, a NUL) itself,
in text/plain that quotes the offending bytes back and without the security headers
(its answer never reaches the app's middlewares or signals). Here such answers are the
API's JSON error, fixed text only, with the same headers as every other response, and
one structured log line.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from yarl import URL

from mailgate.http.headers import apply_security_headers
from mailgate.http.middlewares import http_error
from mailgate.logs import log_event

__all__ = ["HttpsSite", "MailgateRunner"]


class _Handler(RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("a response is already on its way")
        if status < 500:
            log_event("request_unparsable", logging.INFO, status=status)
        else:
            log_event(
                "request_failed",
                logging.ERROR,
                status=status,
                error_class=type(exc).__name__ if exc else None,
            )
        response = http_error(status)
        apply_security_headers(response)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, **self._kwargs)


class MailgateRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return _Server(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )


class HttpsSite(web.BaseSite):
    """The HTTPS listener: aiohttp's TCP site, plus a bound on the TLS handshake like the
    one on the request headers that follow it (asyncio's default would let a silent
    connection hold a socket for 60 s before the header timeout even starts)."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        backlog: int,
        handshake_timeout_s: float,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host, self._port = host, port
        self._handshake_timeout_s = handshake_timeout_s

    @property
    def name(self) -> str:
        return str(URL.build(scheme="https", host=self._host, port=self._port))

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._handshake_timeout_s,
            backlog=self._backlog,
        )
