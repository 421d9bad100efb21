"""The proxy's fetcher on its own: the address policy (SEC-60) and DNS pinning (SEC-61),
with a socket spy proving that refused addresses are never connected to."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from mailgate.net.addresses import AddressPolicy, is_public
from mailgate.proxy.fetch import ImageFetcher, ImageRefused
from mailgate.proxy.resolver import PinnedResolver
from mailgate.tls import upstream_context
from tests.integration.image_server import PNG, ImageServer

REFUSED = [
    "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254",
    "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "198.18.0.1",
    "192.0.2.1", "240.0.0.1", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1",
    "64:ff9b:1::a00:1", "2002:7f00:1::", "2002:a00:1::", "2001:db8::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "fec0::1", "feff::1", "::ffff:0:0",
    "::127.0.0.1", "2002:c0a8:101::",
]  # fmt: skip
PUBLIC = [
    "93.184.216.34", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001:80b::200e",
    "64:ff9b::808:808", "::ffff:8.8.8.8", "2002:808:808::",  # public IPv4 inside
]  # fmt: skip


@pytest.mark.parametrize("address", REFUSED)
def test_sec_60_private_and_embedded_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not AddressPolicy().permits(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_sec_60_public_addresses_pass(address: str) -> None:
    assert AddressPolicy().permits(address)


def test_sec_60_the_test_allowance_is_exact() -> None:
    policy = AddressPolicy(["127.0.0.1"])
    assert policy.permits("127.0.0.1")
    assert not policy.permits("127.0.0.2") and not policy.permits("::1")
    assert not policy.permits("fe80::1%eth0") and not policy.permits("not an address")


class _Sequence(AbstractResolver):
    """Answers each lookup of any name with the next address: a rebinding DNS server."""

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.asked = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[ImageServer]:
    server = await ImageServer().start(tmp_path)
    yield server
    await server.close()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every address the event loop is asked to connect a socket to."""
    seen: list[Any] = []
    original = asyncio.selector_events.BaseSelectorEventLoop.sock_connect

    async def spy(self: Any, sock: socket.socket, address: Any) -> Any:
        seen.append(address[0])
        return await original(self, sock, address)

    monkeypatch.setattr(asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", spy)
    yield seen


async def _get(fetcher: ImageFetcher, url: str) -> bytes:
    image = await fetcher.open(url)
    try:
        return b"".join([chunk async for chunk in image.chunks()])
    finally:
        image.release()


async def test_sec_61_the_checked_address_is_the_one_connected(
    images: ImageServer, connects: list[Any]
) -> None:
    policy = AddressPolicy(["127.0.0.1"])
    rebinding = _Sequence("127.0.0.1", "127.0.0.2")
    fetcher = ImageFetcher(
        policy,
        upstream_context(images.ca_file),
        max_bytes=1 << 20,
        resolver=PinnedResolver(policy, rebinding),
    )
    try:
        url = images.url("pixel.png", host="images.test")
        assert await _get(fetcher, url) == PNG
        assert rebinding.asked == 1  # resolved once for the connection it made
        await fetcher.close()  # a new connection must resolve again
        fetcher = ImageFetcher(
            policy,
            upstream_context(images.ca_file),
            max_bytes=1 << 20,
            resolver=PinnedResolver(policy, rebinding),
        )
        with pytest.raises(ImageRefused) as refused:
            await _get(fetcher, url)
        assert refused.value.reason == "address"
    finally:
        await fetcher.close()
    assert connects == ["127.0.0.1"]
    assert [s.peer for s in images.seen] == ["127.0.0.1"]


async def test_sec_60_one_private_answer_refuses_the_name(
    images: ImageServer, connects: list[Any]
) -> None:
    policy = AddressPolicy(["127.0.0.1"])

    class Mixed(_Sequence):
        async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> Any:
            first = await super().resolve(host, port, family)
            return [*first, {**first[0], "host": "10.0.0.1"}]

    fetcher = ImageFetcher(
        policy,
        upstream_context(images.ca_file),
        max_bytes=1 << 20,
        resolver=PinnedResolver(policy, Mixed("127.0.0.1")),
    )
    try:
        with pytest.raises(ImageRefused):
            await _get(fetcher, images.url("pixel.png", host="images.test"))
    finally:
        await fetcher.close()
    assert connects == [] and images.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/a.png",
        "https://[::1]/a.png",
        "https://[::ffff:7f00:1]/a.png",
        "https://0x7f000001/a.png",
        "https://2130706433/a.png",
        "https://017700000001/a.png",
        "https://100.64.0.1/a.png",
        "https://169.254.169.254/latest",
        "https://[64:ff9b::a00:1]/a.png",
        "https://[2002:7f00:1::]/a.png",
        "https://localhost/a.png",
        "https://127.1/a.png",
        "https://0x7f.1/a.png",
        "https://0177.0.0.1/a.png",
        "https://a..b/a.png",
        "ftp://example.org/a.png",
        "data:image/png;base64,AAAA",
        "https://user:pw@example.org/a.png",
        "https:///a.png",
    ],
)
async def test_sec_60_refused_before_any_connection(url: str, connects: list[Any]) -> None:
    fetcher = ImageFetcher(AddressPolicy(), upstream_context(), max_bytes=1 << 20)
    try:
        with pytest.raises(ImageRefused):
            await _get(fetcher, url)
    finally:
        await fetcher.close()
    assert connects == []
