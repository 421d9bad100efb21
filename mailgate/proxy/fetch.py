"""Fetching one remote image for a reader, without telling the sender anything about them.

Nothing of the reader goes out: no cookie, no Referer, no Authorization, no client
address, a neutral User-Agent and no Accept-Language. Redirects are followed by hand so
that every hop is re-checked (https only, public addresses only via `PinnedResolver`).
Only PNG, JPEG, GIF and WebP pass, proven by their first bytes; the size cap applies to
the bytes actually read. Plain-http image URLs are upgraded to https, as browsers do
for mixed content.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from yarl import URL

from mailgate.net.addresses import AddressPolicy

from .resolver import AddressRefused, PinnedResolver
from .sniff import ALLOWED_DECLARED, SNIFF_BYTES, sniff_image

__all__ = ["FetchedImage", "ImageFetcher", "ImageRefused"]

USER_AGENT = "Mozilla/5.0"
MAX_REDIRECTS = 4
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class ImageRefused(Exception):
    """The target is not a permitted image; `reason` is a short fixed word for logs."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _drop(response: aiohttp.ClientResponse) -> None:
    """Hang up at once, without the TLS close handshake a refused sender has not earned
    (a plain close() waits for the peer's close_notify, up to asyncio's shutdown timeout)."""
    connection = response.connection
    if connection is not None and connection.transport is not None:
        connection.transport.abort()
    response.close()


@dataclass
class FetchedImage:
    content_type: str
    length: int | None
    response: aiohttp.ClientResponse
    head: bytes  # the bytes already read to sniff the type
    max_bytes: int
    complete: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The whole body, ImageRefused past the size cap or when the sender hangs up."""
        total = len(self.head)
        yield self.head
        try:
            async for chunk in self.response.content.iter_chunked(_CHUNK):
                total += len(chunk)
                if total > self.max_bytes:
                    raise ImageRefused("size")
                yield chunk
        except aiohttp.ClientError:
            raise ImageRefused("connect") from None
        self.complete = True

    def release(self) -> None:
        if self.complete:
            self.response.release()  # whole body read: the connection may be reused
        else:
            _drop(self.response)


def _checked_url(raw: str | URL, policy: AddressPolicy) -> URL:
    try:
        return _checked(raw if isinstance(raw, URL) else URL(raw), policy)
    except (ValueError, TypeError):  # UnicodeError (IDNA) is a ValueError too
        raise ImageRefused("url") from None


def _checked(url: URL, policy: AddressPolicy) -> URL:
    if url.scheme == "http":
        url = url.with_scheme("https")
        if url.explicit_port == 80:
            url = url.with_port(None)
    # raw_host is set whenever host is; both are named for the type checker.
    if url.scheme != "https" or not url.host or not url.raw_host or url.user or url.password:
        raise ImageRefused("url")
    host = url.host.strip("[]")
    url.raw_host.encode("ascii")  # IDNA-encodable, or ValueError now rather than later
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
        if _legacy_ipv4(host):
            # "127.1", "2130706433", "0x7f.1": some stacks read these as addresses without
            # asking DNS; only the canonical dotted quad is accepted as a literal.
            raise ImageRefused("address") from None
    # aiohttp skips the resolver for address literals, so they are checked here.
    if literal is not None and not policy.permits(literal):
        raise ImageRefused("address")
    return url.with_fragment(None)


def _legacy_ipv4(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


class ImageFetcher:
    def __init__(
        self,
        policy: AddressPolicy,
        ssl_context: ssl.SSLContext,
        *,
        max_bytes: int,
        resolver: PinnedResolver | None = None,
    ):
        self._policy = policy
        self._ssl = ssl_context
        self._max = max_bytes
        self._resolver = resolver or PinnedResolver(policy)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=self._resolver,
                use_dns_cache=False,
                ssl=self._ssl,
                limit=64,
                limit_per_host=8,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    async def open(self, target: str) -> FetchedImage:
        """Open the image at `target`; the caller streams `chunks` then calls release()."""
        url = _checked_url(target, self._policy)
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                response = await self._client().get(
                    url,
                    allow_redirects=False,
                    headers={
                        "User-Agent": USER_AGENT,
                        "Accept": "image/png,image/jpeg,image/gif,image/webp",
                        "Accept-Encoding": "identity",
                    },
                )
            except aiohttp.ClientConnectorError as exc:
                refused = isinstance(exc.os_error, AddressRefused)
                raise ImageRefused("address" if refused else "connect") from None
            except (aiohttp.ClientError, ssl.SSLError, OSError, ValueError):
                raise ImageRefused("connect") from None
            if response.status in _REDIRECTS:
                location = response.headers.get("Location", "")
                _drop(response)
                if not location:
                    raise ImageRefused("status")
                try:
                    hop = url.join(URL(location))
                except (ValueError, TypeError):
                    raise ImageRefused("url") from None
                url = _checked_url(hop, self._policy)
                continue
            try:
                return await self._accept(response)
            except BaseException:
                _drop(response)
                raise
        raise ImageRefused("redirects")

    async def _accept(self, response: aiohttp.ClientResponse) -> FetchedImage:
        if response.status != 200:
            raise ImageRefused("status")
        declared = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if declared and declared not in ALLOWED_DECLARED:
            raise ImageRefused("type")
        if response.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise ImageRefused("encoding")
        length = response.content_length
        if length is not None and length > self._max:
            raise ImageRefused("size")
        head = b""
        try:
            while len(head) < SNIFF_BYTES:
                more = await response.content.read(SNIFF_BYTES - len(head))
                if not more:
                    break
                head += more
        except aiohttp.ClientError:  # e.g. the sender hung up before its Content-Length
            raise ImageRefused("connect") from None
        sniffed = sniff_image(head)
        if sniffed is None:
            raise ImageRefused("type")
        return FetchedImage(sniffed, length, response, head, self._max)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._resolver.close()
