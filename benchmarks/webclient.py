"""What a browser tab does against mailgate, over HTTPS keep-alive connections (two per
tab, as a browser keeps several): log in, list the newest 50, open a message (as
mailgate/ui/static/reader.js does: when the list said `has_html`, its JSON and its HTML
document at once; else the JSON, then the document if the JSON says there is HTML),
download, upload, send, log out."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable
from typing import Any

import aiohttp

__all__ = ["BrowserTab", "HttpFailed"]


class HttpFailed(Exception):
    def __init__(self, what: str, status: int) -> None:
        super().__init__(f"{what}: HTTP {status}")
        self.status = status


class BrowserTab:
    def __init__(self, url: str, ctx: ssl.SSLContext, *, timeout: float = 60) -> None:
        self.url = url
        # Two connections, kept alive (an open with HTML uses both at once); the cookie
        # jar holds the session cookie.
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=2),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self.csrf = ""
        self.inbox = ""

    async def close(self) -> None:
        await self.http.close()

    def _unsafe(self) -> dict[str, str]:
        return {"Origin": self.url, "X-CSRF-Token": self.csrf}

    async def warm(self) -> None:
        """Open the keep-alive connections (the browser loaded the login page and its
        files over them)."""

        async def one() -> None:
            async with self.http.get(f"{self.url}/healthz") as r:
                await r.read()

        await asyncio.gather(one(), one())

    async def login(self, email: str, password: str) -> None:
        body = {"email": email, "password": password}
        async with self.http.post(
            f"{self.url}/api/session", json=body, headers={"Origin": self.url}
        ) as r:
            if r.status != 201:
                raise HttpFailed("login", r.status)
            self.csrf = (await r.json())["csrf_token"]

    async def find_inbox(self) -> str:
        async with self.http.get(f"{self.url}/api/mailboxes") as r:
            if r.status != 200:
                raise HttpFailed("mailboxes", r.status)
            boxes = (await r.json())["mailboxes"]
        self.inbox = next(b["id"] for b in boxes if b["role"] == "inbox")
        return self.inbox

    async def list(self, limit: int = 50, *, parse: bool = True) -> list[dict[str, Any]]:
        """The newest ``limit`` summaries (``parse=False``: read, not decoded: a load
        generator that already knows the ids saves its CPU)."""
        async with self.http.get(
            f"{self.url}/api/mailboxes/{self.inbox}/messages", params={"limit": str(limit)}
        ) as r:
            if r.status != 200:
                raise HttpFailed("list", r.status)
            if not parse:
                await r.read()
                return []
            return (await r.json())["messages"]

    async def open(
        self, message_id: str, *, has_html: bool = False, html: bool = True
    ) -> dict[str, Any]:
        """Open a message. ``has_html`` is the list summary's hint: then the frame's
        document is asked for at once, beside the JSON (the server shares one open)."""
        if not html:
            return await self._message(message_id)
        if has_html:
            message, _ = await asyncio.gather(
                self._message(message_id),
                self._document(f"/api/messages/{message_id}/body.html"),
            )
            if message["has_html"] and message["html_url"].endswith("?remote=allow"):
                await self._document(message["html_url"])  # the frame pointed anew
        else:
            message = await self._message(message_id)
            if message["has_html"]:
                await self._document(message["html_url"])
        return message

    async def _message(self, message_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/api/messages/{message_id}") as r:
            if r.status != 200:
                raise HttpFailed("open", r.status)
            message: dict[str, Any] = await r.json()
            return message

    async def _document(self, path: str) -> None:
        async with self.http.get(f"{self.url}{path}") as r:
            if r.status != 200:
                raise HttpFailed("body.html", r.status)
            await r.read()

    async def download(self, message_id: str, part: str) -> int:
        got = 0
        async with self.http.get(f"{self.url}/api/messages/{message_id}/parts/{part}") as r:
            if r.status != 200:
                raise HttpFailed("download", r.status)
            async for chunk in r.content.iter_chunked(256 * 1024):
                got += len(chunk)
        return got

    async def upload(self, data: bytes | AsyncIterable[bytes], filename: str) -> dict[str, Any]:
        """Upload ``data`` (bytes, or chunks streamed as they come); the stored upload."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type="application/pdf")
        async with self.http.post(
            f"{self.url}/api/uploads", data=form, headers=self._unsafe()
        ) as r:
            if r.status != 201:
                raise HttpFailed("upload", r.status)
            return await r.json()

    async def delete_upload(self, upload_id: str) -> None:
        async with self.http.delete(
            f"{self.url}/api/uploads/{upload_id}", headers=self._unsafe()
        ) as r:
            if r.status != 204:
                raise HttpFailed("delete upload", r.status)

    async def send(self, to: str, subject: str, text: str, attachments: list[str]) -> None:
        body = {"to": [to], "subject": subject, "text": text, "attachments": attachments}
        async with self.http.post(f"{self.url}/api/send", json=body, headers=self._unsafe()) as r:
            if r.status != 200:
                raise HttpFailed("send", r.status)
            result = await r.json()
        if result.get("saved_to") is None:
            raise HttpFailed("send (not saved to Sent)", 200)

    async def logout(self) -> None:
        async with self.http.delete(f"{self.url}/api/session", headers=self._unsafe()) as r:
            if r.status != 204:
                raise HttpFailed("logout", r.status)
