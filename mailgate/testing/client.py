"""A small HTTPS client for the mailgate API that behaves like the bundled UI: the one
cookie, the CSRF token on unsafe methods, and a same-origin `Origin` header."""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import ssl
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import aiohttp

from mailgate.session.tokens import COOKIE_NAME

__all__ = ["ApiClient", "ApiResponse", "EventStream"]


class ApiResponse:
    def __init__(self, status: int, headers: Any, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            code = self.json()["error"]["code"]
        except Exception:
            return None
        return code if isinstance(code, str) else None

    def set_cookies(self) -> list[str]:
        return list(self.headers.getall("Set-Cookie", []))

    def __repr__(self) -> str:
        return f"ApiResponse({self.status}, {self.body[:200]!r})"


class EventStream:
    """The reading end of GET /api/events: parsed Server-Sent Events."""

    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response
        self.comments = 0

    async def next(self, timeout: float) -> tuple[str, Any] | None:
        """The next (event name, parsed data), or None when the server ended the stream;
        TimeoutError when nothing came in time."""
        name, data = "message", list[str]()
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return None
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if data:
                        return name, jsonlib.loads("\n".join(data))
                    name = "message"
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "":
                    self.comments += 1
                elif field == "event":
                    name = value
                elif field == "data":
                    data.append(value)


class ApiClient:
    """`origin` is what an unsafe request sends as `Origin` (the base URL by default; an
    in-process server is reached over plain HTTP but checks for its https origin)."""

    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext | bool = True,
        *,
        origin: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.ssl = ssl_context
        self.origin = (origin or self.base_url).rstrip("/")
        self.cookie: str | None = None
        self.csrf: str | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # No cookie jar: the cookie is handled explicitly so tests see every header.
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        cookie: bool = True,
        csrf: bool = True,
        origin: bool = True,
    ) -> ApiResponse:
        all_headers: dict[str, str] = {}
        if origin and method not in ("GET", "HEAD"):
            all_headers["Origin"] = self.origin
        if cookie and self.cookie:
            all_headers["Cookie"] = f"{COOKIE_NAME}={self.cookie}"
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            all_headers["X-CSRF-Token"] = self.csrf
        all_headers.update(headers or {})
        async with self._session().request(
            method,
            self.base_url + path,
            json=json,
            data=data,
            headers=all_headers,
            ssl=self.ssl,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            result = ApiResponse(resp.status, resp.headers, body)
        for header in result.set_cookies():
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            if COOKIE_NAME in jar:
                morsel = jar[COOKIE_NAME]
                self.cookie = morsel.value if morsel["max-age"] != "0" and morsel.value else None
        return result

    @contextlib.asynccontextmanager
    async def events(self) -> AsyncIterator[EventStream]:
        """Open GET /api/events with the session cookie; raises AssertionError on non-200."""
        headers = {"Cookie": f"{COOKIE_NAME}={self.cookie}"} if self.cookie else {}
        async with self._session().get(
            self.base_url + "/api/events", headers=headers, ssl=self.ssl
        ) as resp:
            if resp.status != 200:
                raise AssertionError(f"/api/events answered {resp.status}: {await resp.read()!r}")
            yield EventStream(resp)

    async def login(self, email: str, password: str) -> ApiResponse:
        resp = await self.request(
            "POST", "/api/session", json={"email": email, "password": password}
        )
        if resp.status == 201:
            self.csrf = resp.json()["csrf_token"]
        return resp

    async def logout(self) -> ApiResponse:
        resp = await self.request("DELETE", "/api/session")
        if resp.status == 204:
            self.csrf = None
        return resp

    async def get(self, path: str, **kw: Any) -> ApiResponse:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> ApiResponse:
        return await self.request("POST", path, **kw)
