"""A byte relay in front of a real IMAP server that can make it "hang" (fault injection).

TLS stays end to end between mailgate and the real server; the relay only copies bytes.
`stall()` stops the copying on chosen links (and, optionally, on links opened later), which
is what a wedged server looks like from outside: the TCP connection stays up and nothing
more is ever answered. `thaw()` lets bytes flow again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from mailgate.testing.loop import LoopThread

__all__ = ["Link", "StallRelay"]

_CHUNK = 64 * 1024


@dataclass(eq=False)
class Link:
    """One client connection and its upstream twin."""

    number: int
    flowing: asyncio.Event
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False


class StallRelay:
    """Listens on 127.0.0.1:`port` and relays each connection to `target_port`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._thread = LoopThread("stall-relay")
        self._server: asyncio.AbstractServer | None = None
        self.links: list[Link] = []
        self._stall_new = False
        self.port: int = self._thread.call(self._start())

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        flowing = asyncio.Event()
        if not self._stall_new:
            flowing.set()
        link = Link(len(self.links), flowing, [writer])
        self.links.append(link)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            link.closed = True
            return
        link.writers.append(up_writer)
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer)),
            asyncio.create_task(self._pump(link, up_reader, writer)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        link.closed = True
        for w in link.writers:
            w.close()

    async def _pump(self, link: Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(_CHUNK):
                await link.flowing.wait()  # stalled: hold the bytes, answer nothing
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Either side gone: end the whole link, as a TCP proxy would (a pump held by
            # the stall is released so it notices).
            for w in link.writers:
                w.close()
            link.flowing.set()

    # -- controls (called from the test's thread) ----------------------------------------------

    def stall(self, *links: Link, new: bool = False) -> None:
        """Stop relaying on `links`; with `new`, connections opened from now on hang too."""

        async def go() -> None:
            self._stall_new = new
            for link in links:
                link.flowing.clear()

        self._thread.call(go())

    def thaw(self) -> None:
        async def go() -> None:
            self._stall_new = False
            for link in self.links:
                link.flowing.set()

        self._thread.call(go())

    def open_links(self) -> list[Link]:
        return [link for link in self.links if not link.closed]

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for link in self.links:
                for task in link.tasks:
                    task.cancel()
                for w in link.writers:
                    w.close()
            for link in self.links:
                for task in link.tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        try:
            self._thread.call(stop())
        finally:
            self._thread.close()
