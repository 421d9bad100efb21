"""HEAD is answered wherever GET is: the same status and headers, and no body bytes on
the wire (aiohttp would send what a streamed response writes, so this is checked on a
raw TLS connection), for the JSON routes, the downloads, the UI and the event stream."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from mailgate.session.tokens import COOKIE_NAME
from mailgate.testing.client import ApiClient
from tests.integration.mailfactory import with_attachment

pytestmark = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)

PAYLOAD = b"%PDF-1.4 head test " * 4000  # ~76 KB: several chunks of a streamed download


async def _raw(mailgate, method: str, path: str, cookie: str | None) -> tuple[int, dict, bytes]:
    """One request on its own TLS connection; everything the server sent, split."""
    context = ssl.create_default_context(cafile=mailgate.ca_file)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", mailgate.port, ssl=context, server_hostname="localhost"
    )
    lines = [f"{method} {path} HTTP/1.1", f"Host: localhost:{mailgate.port}", "Connection: close"]
    if cookie:
        lines.append(f"Cookie: {COOKIE_NAME}={cookie}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_every_get_route_has_a_head_route(make_mailgate):
    mailgate = make_mailgate(metrics={"enabled": True}, proxy={"enabled": True})
    routes = list(mailgate.app.router.routes())
    heads = {(r.resource.canonical, r.handler) for r in routes if r.method == "HEAD"}
    gets = [(r.resource.canonical, r.handler) for r in routes if r.method == "GET"]
    assert len(gets) > 15
    missing = [path for path, handler in gets if (path, handler) not in heads]
    assert missing == []


async def test_head_answers_like_get_without_a_body(mailgate, upstream, user):
    upstream.deliver(user[0], with_attachment(PAYLOAD, "report.pdf", "application/pdf"))
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
        inbox = next(b for b in boxes if b["role"] == "inbox")
        listing = f"/api/mailboxes/{inbox['id']}/messages"
        summary = (await api.get(listing)).json()["messages"][0]
        message = (await api.get(f"/api/messages/{summary['id']}")).json()
        paths = [
            "/healthz",
            "/readyz",
            "/",
            "/robots.txt",
            "/api/openapi.json",
            "/api/session",
            "/api/mailboxes",
            listing,
            f"/api/messages/{summary['id']}?peek=1",
            message["html_url"],
            f"/api/messages/{summary['id']}/raw",
            message["attachments"][0]["url"],
            "/api/preferences",
            "/api/uploads",
        ]
        for path in paths:
            get_status, get_headers, get_body = await _raw(mailgate, "GET", path, api.cookie)
            status, headers, body = await _raw(mailgate, "HEAD", path, api.cookie)
            assert get_status == 200 and get_body, path
            assert status == 200, path
            assert body == b"", (path, body[:80])
            assert headers.get("content-type") == get_headers.get("content-type"), path
            for name in ("content-security-policy", "cache-control", "x-content-type-options"):
                assert headers.get(name) == get_headers.get(name), (path, name)
        # The download says how big it is, as GET does.
        download = message["attachments"][0]["url"]
        _, headers, _ = await _raw(mailgate, "HEAD", download, api.cookie)
        assert headers.get("content-length") in (None, str(len(PAYLOAD)))
        # The event stream: its headers at once, no feed opened, nothing streamed.
        status, headers, body = await _raw(mailgate, "HEAD", "/api/events", api.cookie)
        assert status == 200 and body == b""
        assert headers["content-type"].startswith("text/event-stream")
        assert mailgate.services.push_hub.open_count() == 0
        # Without a session HEAD is refused like GET.
        status, _, body = await _raw(mailgate, "HEAD", "/api/mailboxes", None)
        assert status == 401 and body == b""
