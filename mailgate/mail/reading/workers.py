"""A small, fixed pool of worker processes for the CPU-heavy steps of reading mail.

Why processes: MIME parsing and sanitizing hold the GIL, so a thread would still stall
the event loop. Why not `ProcessPoolExecutor`: it cannot stop one task that overruns; here
each task has its own worker for its duration, and a worker past the deadline is killed
and replaced while the others carry on.

Fairness: one owner (a session) may hold at most `per_owner` workers at a time; its
further tasks wait on its own semaphore, never in front of other sessions' tasks.

The round trip: the event loop itself writes the task to the worker's socket and waits
for the reply on it (no thread in between: a thread hop costs two more wake-ups, about
0.1 ms per message on the bench machine). Pickling and unpickling happen on the
loop, as they did before under the GIL; the payloads are bounded by the reading limits.

Priority: a worker runs at the server's priority, so ordinary messages (a millisecond or
two each) are not starved when the machine is busy. A task still running after
`demote_after_s` is an expensive message: its worker is lowered to niceness 10 at once,
so the event loop (and everyone else's requests) come first, and the worker is replaced
once the task ends (a process cannot raise its own priority again). Workers are forked
from a server process that has already imported the renderer ("forkserver"), so a
replacement costs milliseconds, not an interpreter's start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import struct
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.reduction import ForkingPickler
from typing import Any, ParamSpec, TypeVar

__all__ = ["WorkerFailed", "WorkerPool", "WorkerTimeout"]

P = ParamSpec("P")
T = TypeVar("T")
# The contexts get_context returns for a start method: each has Process (BaseContext has not).
_Context = SpawnContext | ForkContext | ForkServerContext

# A worker's address space: enough for any message within the limits, and a memory bomb
# becomes a MemoryError in the worker rather than the machine swapping.
_WORKER_MEMORY = 1024 * 1024 * 1024
_START_TIMEOUT_S = 60.0
_WORKER_NICENESS = 10
# A task still running after this long is an expensive message: its worker yields to the
# server from then on. Ordinary messages take a millisecond or two.
DEMOTE_AFTER_S = 0.1


class WorkerTimeout(Exception):
    """The task overran its deadline; its worker was killed."""


class WorkerFailed(Exception):
    """The task raised in the worker (only the exception's class name travels back), or
    the worker itself was lost (``lost``: it died, or its pipe broke)."""

    def __init__(self, what: str, *, lost: bool = False):
        super().__init__(what)
        self.lost = lost


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """A worker's main loop: run (function, arguments) tasks until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (_WORKER_MEMORY, _WORKER_MEMORY))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except BaseException as exc:  # reported to the parent, which decides
            reply = ("error", type(exc).__name__)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


def _frame_header(size: int) -> bytes:
    """multiprocessing.Connection's frame header: a signed 32-bit size, or -1 and 64 bits."""
    if size > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", size)
    return struct.pack("!i", size)


async def _read_exactly(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int
) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise EOFError()
        got += n
    return buf


async def _read_frame(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytearray:
    (size,) = struct.unpack("!i", await _read_exactly(loop, sock, 4))
    if size == -1:
        (size,) = struct.unpack("!Q", await _read_exactly(loop, sock, 8))
    return await _read_exactly(loop, sock, size)


def _ready() -> bool:
    """The first task of each worker: load what reading needs before a request waits."""
    import mailgate.mail.reading.render  # noqa: F401

    return True


class _Worker:
    """One worker process. Started (and waited for) in one of the pool's threads."""

    def __init__(self, context: _Context):
        self.demoted = False
        self._sock: socket.socket | None = None
        parent, child = context.Pipe()
        self.conn = parent
        self.process = context.Process(
            target=_serve, args=(child,), daemon=True, name="mailgate-reading"
        )
        self.process.start()
        child.close()
        try:
            self.call(_ready, (), _START_TIMEOUT_S)
        except (WorkerTimeout, WorkerFailed):
            self.kill()
            raise

    def call(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        deadline_s: float,
        demote_after_s: float | None = None,
    ) -> Any:
        """Blocking, for the start-up task only: run in one of the pool's threads."""
        try:
            self.conn.send((fn, args))
            first = deadline_s if demote_after_s is None else min(demote_after_s, deadline_s)
            if not self.conn.poll(first):
                if first >= deadline_s:
                    raise WorkerTimeout()
                self.demote()
                if not self.conn.poll(deadline_s - first):
                    raise WorkerTimeout()
            kind, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerFailed(type(exc).__name__, lost=True) from None
        if kind == "error":
            raise WorkerFailed(value)
        return value

    async def run(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        deadline_s: float,
        demote_after_s: float | None = None,
    ) -> Any:
        """On the event loop: send the task, wait for its reply within ``deadline_s``
        (lowering the worker after ``demote_after_s``). The framing is Connection's, so
        the worker side stays ``conn.recv()`` / ``conn.send()``."""
        loop = asyncio.get_running_loop()
        sock = self._socket()
        demoting = (
            loop.call_later(demote_after_s, self.demote)
            if demote_after_s is not None and demote_after_s < deadline_s
            else None
        )
        try:
            payload = ForkingPickler.dumps((fn, args))
            async with asyncio.timeout(deadline_s):
                await loop.sock_sendall(sock, _frame_header(len(payload)))
                await loop.sock_sendall(sock, payload)
                reply = await _read_frame(loop, sock)
        except TimeoutError:
            raise WorkerTimeout() from None
        except (EOFError, OSError) as exc:
            raise WorkerFailed(type(exc).__name__, lost=True) from None
        finally:
            if demoting is not None:
                demoting.cancel()
        kind, value = ForkingPickler.loads(reply)
        if kind == "error":
            raise WorkerFailed(value)
        return value

    def _socket(self) -> socket.socket:
        """The pipe's socket, non-blocking, for the event loop (a duplicate descriptor
        of the same socket: closed with it in kill)."""
        if self._sock is None:
            self._sock = socket.socket(fileno=os.dup(self.conn.fileno()))
            self._sock.setblocking(False)
        return self._sock

    def demote(self) -> None:
        """Lower the worker below the server (allowed for one's own processes; raising
        it back is not, hence the replacement)."""
        self.demoted = True
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, _WORKER_NICENESS)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        if self._sock is not None:
            with contextlib.suppress(Exception):
                self._sock.close()
        with contextlib.suppress(Exception):
            self.process.join(2)
        with contextlib.suppress(Exception):
            self.conn.close()

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid


class WorkerPool:
    def __init__(
        self,
        size: int = 2,
        *,
        per_owner: int | None = None,
        start_method: str = "forkserver",
        demote_after_s: float | None = DEMOTE_AFTER_S,
    ):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.per_owner = per_owner if per_owner is not None else max(1, size // 2)
        context = multiprocessing.get_context(start_method)
        assert isinstance(context, _Context)  # typeshed: get_context(str) -> BaseContext
        if isinstance(context, ForkServerContext):
            # The fork server imports the renderer once; each worker is a fork of it.
            context.set_forkserver_preload(["mailgate.mail.reading.render"])
        self._context = context
        self.demote_after_s = demote_after_s
        self._replacing: set[asyncio.Task[None]] = set()
        self._idle: list[_Worker] = []
        self._slots = asyncio.Semaphore(size)
        # For starting and stopping workers (blocking steps), never for a task's round trip.
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="reading")
        self._owners: weakref.WeakValueDictionary[str, asyncio.Semaphore] = (
            weakref.WeakValueDictionary()
        )
        self._closed = False
        self.counters: dict[str, int] = {"tasks": 0, "timeouts": 0, "failures": 0, "demoted": 0}

    def _share(self, owner: str) -> asyncio.Semaphore:
        sem = self._owners.get(owner)
        if sem is None:
            sem = self._owners[owner] = asyncio.Semaphore(self.per_owner)
        return sem

    async def start(self) -> None:
        """Start every worker now (each takes a moment to import), so no request waits."""
        loop = asyncio.get_running_loop()
        started = await asyncio.gather(
            *(
                loop.run_in_executor(self._threads, _Worker, self._context)
                for _ in range(self.size - len(self._idle))
            )
        )
        self._idle.extend(started)

    def pids(self) -> list[int]:
        return [w.pid for w in self._idle if w.pid is not None]

    async def run(
        self, owner: str, deadline_s: float, fn: Callable[P, T], *args: P.args, **_: P.kwargs
    ) -> T:
        """Run ``fn(*args)`` in a worker within ``deadline_s`` of it starting there.

        Raises WorkerTimeout (the worker is killed and replaced) or WorkerFailed."""
        if self._closed:
            raise WorkerFailed("closed")
        loop = asyncio.get_running_loop()
        share = self._share(owner)
        async with share, self._slots:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                worker = await loop.run_in_executor(self._threads, _Worker, self._context)
            self.counters["tasks"] += 1
            try:
                # What fn returned, pickled back from the worker.
                result: T = await worker.run(fn, args, deadline_s, self.demote_after_s)
            except WorkerFailed as exc:
                if exc.lost:
                    await loop.run_in_executor(self._threads, worker.kill)
                else:
                    self._idle.append(worker)  # the task failed, the worker is fine
                self.counters["failures"] += 1
                raise
            except WorkerTimeout:
                self.counters["timeouts"] += 1
                await loop.run_in_executor(self._threads, worker.kill)
                raise
            except BaseException:
                # Cancelled while the worker computes something nobody will read.
                worker.kill()
                raise
            if self._closed:
                worker.kill()
            elif worker.demoted:
                self._retire(worker)
            else:
                self._idle.append(worker)
            return result

    def _retire(self, worker: _Worker) -> None:
        """Replace a demoted worker in the background; the answer does not wait for it."""
        self.counters["demoted"] += 1
        loop = asyncio.get_running_loop()

        async def replace() -> None:
            await loop.run_in_executor(self._threads, worker.kill)
            with contextlib.suppress(WorkerFailed, WorkerTimeout):
                fresh = await loop.run_in_executor(self._threads, _Worker, self._context)
                if self._closed or len(self._idle) >= self.size:
                    fresh.kill()
                else:
                    self._idle.append(fresh)

        task = loop.create_task(replace())
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._replacing):
            task.cancel()
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)
