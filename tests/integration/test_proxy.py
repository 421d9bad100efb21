"""The privacy proxy for remote images (issue 7, SEC-59 to SEC-62), against a local
HTTPS image host that records what each request revealed."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate
from tests.integration.image_server import GIF, LARGE_IMAGE, PNG, ImageServer
from tests.integration.mailfactory import html_message

pytestmark = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)

_IMG = re.compile(r'<img[^>]*\bsrc="([^"]*)"')


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[ImageServer]:
    server = await ImageServer().start(tmp_path)
    yield server
    await server.close()


def _proxy(images: ImageServer, **extra: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "ca_file": images.ca_file,
        "allow_private_addresses": ("127.0.0.1",),
        "timeout_s": 2.0,
        "max_bytes": 1024 * 1024,
        **extra,
    }


class Reader:
    """A logged-in API client plus the ids of one delivered message."""

    def __init__(self, api: ApiClient, message: dict[str, Any]):
        self.api = api
        self.message = message

    async def image_urls(self, remote: bool = True) -> list[str]:
        suffix = "?remote=allow" if remote else ""
        resp = await self.api.get(self.message["html_url"].split("?")[0] + suffix)
        assert resp.status == 200, resp
        return [unescape(u) for u in _IMG.findall(resp.body.decode())]


async def _open(
    make_mailgate: Callable[..., RunningMailgate], upstream: Any, html: str, **proxy: Any
) -> tuple[RunningMailgate, Reader]:
    mailgate = make_mailgate(proxy=proxy)
    email, password = upstream.new_user()
    upstream.deliver(email, html_message(html))
    api = ApiClient(mailgate.url, mailgate.client_ssl())
    await api.__aenter__()
    assert (await api.login(email, password)).status == 201
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    listing = (await api.get(f"/api/mailboxes/{inbox['id']}/messages")).json()
    message = (await api.get(f"/api/messages/{listing['messages'][0]['id']}")).json()
    return mailgate, Reader(api, message)


@pytest.fixture
async def opened(make_mailgate, upstream) -> AsyncIterator[Callable[..., Any]]:
    readers: list[Reader] = []

    async def open_(html: str, **proxy: Any) -> tuple[RunningMailgate, Reader]:
        mailgate, reader = await _open(make_mailgate, upstream, html, **proxy)
        readers.append(reader)
        return mailgate, reader

    yield open_
    for reader in readers:
        await reader.api.close()


async def _fetch(mailgate: RunningMailgate, url: str) -> tuple[int, Any, bytes]:
    """GET as the sandboxed frame does: cross-site, no cookie at all."""
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http,
        http.get(
            mailgate.url + url,
            ssl=mailgate.client_ssl(),
            headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "image"},
        ) as resp,
    ):
        return resp.status, resp.headers, await resp.read()


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


async def test_sec_62_proxy_reveals_nothing_of_the_reader(opened, images):
    html = f'<p>Hi</p><img src="{images.url("pixel.png")}"><img src="{images.url("anim.gif")}">'
    mailgate, reader = await opened(html, **_proxy(images))
    assert reader.message["remote_content_blocked"] == 2
    assert reader.message["remote_allowed"] is False
    assert await reader.image_urls(remote=False) == []
    urls = await reader.image_urls()
    assert len(urls) == 2 and all(u.startswith("/api/proxy/image?") for u in urls)
    assert images.seen == []  # rendering alone fetches nothing

    lookup = parse_qs(urlsplit(urls[0]).query)["s"][0]
    before = mailgate.call(mailgate.services.store.get(lookup)).last_seen
    status, headers, body = await _fetch(mailgate, urls[0])
    assert status == 200 and body == PNG
    assert headers["Content-Type"] == "image/png"
    assert headers.getall("Cross-Origin-Resource-Policy") == ["cross-origin"]
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in headers
    status, headers, body = await _fetch(mailgate, urls[1])
    assert status == 200 and body == GIF and headers["Content-Type"] == "image/gif"

    # What the sender's server learnt: nothing of the reader (SEC-59, SEC-62).
    seen = images.requests_for("pixel.png")
    assert len(seen) == 1
    sent = {k.lower(): v for k, v in seen[0].headers.items()}
    assert sent["user-agent"] == "Mozilla/5.0"
    for leaky in ("cookie", "referer", "authorization", "origin", "accept-language",
                  "x-forwarded-for", "forwarded", "via", "sec-fetch-site"):  # fmt: skip
        assert leaky not in sent, leaky
    # Fetching an image is not activity: an open message cannot keep a session alive.
    assert mailgate.call(mailgate.services.store.get(lookup)).last_seen == before


async def test_sec_62_signatures_are_bound_to_session_message_and_time(
    opened, images, make_mailgate, upstream
):
    html = f'<img src="{images.url("pixel.png")}">'
    mailgate, reader = await opened(html, **_proxy(images, url_lifetime_s=2.0))
    (url,) = await reader.image_urls()
    assert (await _fetch(mailgate, url))[0] == 200

    other_email, other_password = upstream.new_user()
    upstream.deliver(other_email, html_message(html))
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as other:
        assert (await other.login(other_email, other_password)).status == 201
        boxes = (await other.get("/api/mailboxes")).json()["mailboxes"]
        inbox = next(b for b in boxes if b["role"] == "inbox")
        listing = (await other.get(f"/api/mailboxes/{inbox['id']}/messages")).json()
        other_id = listing["messages"][0]["id"]
        other_html = (await other.get(f"/api/messages/{other_id}/body.html?remote=allow")).body
        (other_url,) = [unescape(u) for u in _IMG.findall(other_html.decode())]
    theirs = parse_qs(urlsplit(other_url).query)
    forged = [
        _with(url, s=theirs["s"][0]),  # another session
        _with(url, m=theirs["m"][0]),  # another message
        _with(url, u="aHR0cHM6Ly8xMjcuMC4wLjEvb3RoZXIucG5n"),  # another target
        _with(url, t="A" * 43),  # a made-up signature
        _with(url, e=str(int(time.time()) + 86400)),  # a longer life
        "/api/proxy/image?" + urlencode({"u": "aHR0cHM6Ly8xMjcuMC4wLjEv"}),  # unsigned
    ]
    for bad in forged:
        status, _, body = await _fetch(mailgate, bad)
        assert status == 403 and b'"forbidden"' in body, bad
    await asyncio.sleep(2.2)
    (fresh,) = await reader.image_urls()
    assert (await _fetch(mailgate, url))[0] == 403  # expired
    assert (await _fetch(mailgate, fresh))[0] == 200
    assert (await reader.api.logout()).status == 204
    assert (await _fetch(mailgate, fresh))[0] == 403  # the session is gone
    assert len(images.requests_for("pixel.png")) == 2


@pytest.mark.parametrize(
    "path",
    [
        "page.html",
        "liar.png",
        "vector.svg",
        "zipped.png",
        "declared-huge.png",
        "missing.png",
        "short.png",
    ],
)
async def test_sec_62_only_real_raster_images_pass(opened, images, path):
    mailgate, reader = await opened(f'<img src="{images.url(path)}">', **_proxy(images))
    (url,) = await reader.image_urls()
    status, headers, body = await _fetch(mailgate, url)
    assert status == 502 and b'"image_refused"' in body
    assert headers["Content-Type"].startswith("application/json")
    assert len(images.requests_for(path)) == 1


async def test_sec_62_an_endless_image_is_cut_at_the_cap(opened, images):
    mailgate, reader = await opened(f'<img src="{images.url("huge.png")}">', **_proxy(images))
    (url,) = await reader.image_urls()
    got = 0
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.get(mailgate.url + url, ssl=mailgate.client_ssl()) as resp:
                assert resp.status == 200
                async for chunk in resp.content.iter_chunked(65536):
                    got += len(chunk)
    assert got <= 1024 * 1024
    await asyncio.sleep(0.5)
    # The proxy hung up long before 50 MiB (what is in flight is the kernel's buffers).
    assert not images.huge_completed
    assert images.huge_bytes_sent < 20 * 1024 * 1024


async def test_a_slow_reader_of_a_fast_host_gets_the_whole_image(opened, images):
    """timeout_s is the image host's budget: a reader that takes its time (here ~3x the
    budget, but never stalling for response_write_timeout_s) still gets every byte."""
    mailgate, reader = await opened(
        f'<img src="{images.url("large.png")}">',
        **_proxy(images, timeout_s=1.0, max_bytes=32 * 1024 * 1024),
    )
    (url,) = await reader.image_urls()
    started, body = time.monotonic(), bytearray()
    async with (
        aiohttp.ClientSession() as http,
        http.get(mailgate.url + url, ssl=mailgate.client_ssl()) as resp,
    ):
        assert resp.status == 200
        async for chunk in resp.content.iter_chunked(256 * 1024):
            body += chunk
            await asyncio.sleep(0.03)
    assert time.monotonic() - started > 2.0
    assert bytes(body) == LARGE_IMAGE


@pytest.mark.parametrize("path", ["slow.png", "trickle.png", "short-later.png"])
async def test_sec_62_slow_images_time_out(opened, images, path):
    mailgate, reader = await opened(
        f'<img src="{images.url(path)}">', **_proxy(images, timeout_s=1.0)
    )
    (url,) = await reader.image_urls()
    started = time.monotonic()
    try:
        status, _, _ = await _fetch(mailgate, url)
    except aiohttp.ClientPayloadError:
        status = 0  # headers were out when time ran out: the connection was cut
    assert status in (0, 502)
    assert time.monotonic() - started < 3.0


async def test_sec_62_redirects_are_rechecked_on_every_hop(opened, images):
    good = images.url("redirect?" + urlencode({"to": images.url("pixel.png")}))
    private = [
        images.url("redirect?" + urlencode({"to": target}))
        for target in (
            "http://127.0.0.2/",  # plain http, upgraded, then refused: not allowed
            images.url("pixel.png", host="127.0.0.2"),
            images.url("pixel.png", host="[::1]"),
            "https://10.0.0.1/x.png",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:127.0.0.2]/",
            "https://2130706433/",
            "http://[::1",  # not even a URL
            "https://a..b/x.png",  # not a host name (IDNA refuses it)
            "https://" + "a" * 70 + ".example/x.png",
            "https://127.1/x.png",  # legacy forms some stacks read as addresses
            "https://0x7f.1/x.png",
        )
    ]
    tags = "".join(f'<img src="{u}">' for u in [good, images.url("loop.png"), *private])
    mailgate, reader = await opened(tags, **_proxy(images))
    urls = await reader.image_urls()
    assert len(urls) == 2 + len(private)
    status, _, body = await _fetch(mailgate, urls[0])
    assert status == 200 and body == PNG
    status, _, _ = await _fetch(mailgate, urls[1])
    assert status == 502  # a redirect loop ends
    for url in urls[2:]:
        status, _, body = await _fetch(mailgate, url)
        assert status == 502 and b'"image_refused"' in body
    # Only 127.0.0.1 itself was ever reached; no hop went to a refused address.
    assert {s.peer for s in images.seen} == {"127.0.0.1"}


async def test_sec_60_default_configuration_refuses_every_private_address(opened, images):
    targets = [
        images.url("pixel.png"),
        images.url("pixel.png", host="localhost"),
        images.url("pixel.png", host="[::ffff:127.0.0.1]"),
        images.url("pixel.png", host="0x7f000001"),
        images.url("pixel.png", host="2130706433"),
        images.url("pixel.png", host="017700000001"),
    ]
    tags = "".join(f'<img src="{u}">' for u in targets)
    proxy = {"enabled": True, "ca_file": images.ca_file, "timeout_s": 2.0}
    mailgate, reader = await opened(tags, **proxy)
    urls = await reader.image_urls()
    assert len(urls) == len(targets)
    for url in urls:
        status, _, body = await _fetch(mailgate, url)
        assert status == 502 and b'"image_refused"' in body
    assert images.seen == []


async def test_proxy_is_off_by_default(opened, images):
    mailgate, reader = await opened(f'<img src="{images.url("pixel.png")}">')
    assert reader.message["remote_allowed"] is False
    assert await reader.image_urls(remote=True) == []  # remote=allow changes nothing
    status, _, body = await _fetch(mailgate, "/api/proxy/image?u=x&s=y&m=z&e=1&t=w")
    assert status == 404 and b'"not_found"' in body
    session = (await reader.api.get("/api/session")).json()
    assert session["features"]["proxy"] is False
    assert images.seen == []


async def test_always_load_images_from_chosen_senders(opened, images):
    _mailgate, reader = await opened(f'<img src="{images.url("pixel.png")}">', **_proxy(images))
    assert reader.message["remote_allowed"] is False
    assert "remote=allow" not in reader.message["html_url"]
    message_url = f"/api/messages/{reader.message['id']}"
    for choice, expected in (
        (["someone@else.example"], False),
        (["NEWS@example.com"], True),
        (["example.com"], True),
        ([], False),
    ):
        resp = await reader.api.request(
            "PUT", "/api/preferences", json={"remote_images_senders": choice}
        )
        assert resp.status == 200, resp
        message = (await reader.api.get(message_url)).json()
        assert message["remote_allowed"] is expected, choice
        assert message["html_url"].endswith("?remote=allow") is expected
        if expected:
            body = (await reader.api.get(message["html_url"])).body.decode()
            assert "/api/proxy/image?" in unescape(body)
    session = (await reader.api.get("/api/session")).json()
    assert session["features"]["proxy"] is True


async def test_a_failing_preferences_store_leaves_images_blocked_not_the_message(
    opened, images, monkeypatch
):
    """Fault injection: the preferences store fails while a message with remote images
    is opened. The per-sender choice is a nicety: the message still opens (200), with
    its images blocked, instead of answering 503."""
    from mailgate.api.preferences import preferences_of
    from mailgate.errors import StoreUnavailable

    mailgate, reader = await opened(f'<img src="{images.url("pixel.png")}">', **_proxy(images))
    resp = await reader.api.request(
        "PUT", "/api/preferences", json={"remote_images_senders": ["example.com"]}
    )
    assert resp.status == 200, resp

    async def broken(email: str) -> Any:
        raise StoreUnavailable()

    monkeypatch.setattr(preferences_of(mailgate.app), "load", broken)
    message = await reader.api.get(f"/api/messages/{reader.message['id']}")
    assert message.status == 200, message
    assert message.json()["remote_allowed"] is False
    assert message.json()["remote_content_blocked"] == 1
