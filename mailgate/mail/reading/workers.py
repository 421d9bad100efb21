"""A small, fixed pool of worker processes for the CPU-heavy steps of reading mail.

Why processes: MIME parsing and sanitizing hold the GIL, so a thread would still stall
the event loop. Why not `ProcessPoolExecutor`: it cannot stop one task that overruns; here
each task has its own worker for its duration, and a worker past the deadline is killed
and replaced while the others carry on.

Fairness: one owner (a session) may hold at most `per_owner` workers at a time; its
further tasks wait in the queue, and tasks of other owners behind them go first.

Dispatch happens in the event loop's callbacks, not in the tasks that wait: when a
worker's reply arrives, the next waiting task is written to that worker in the same
callback, before the waiting request even wakes. Under load an event-loop iteration takes
milliseconds; a worker that waited for the awaiting coroutines to run (two iterations)
sat idle for most of its time (measured: 8.5 ms idle for 1.2 ms of work per message with
50 busy sessions). Pickling and unpickling happen on the loop; payloads are bounded by the
reading limits, and pickling bytes is a copy.

Pipelining: a worker may hold further tasks in its pipe while it runs one (`pipeline`
tasks in all), so it goes on to the next message without waiting for the event loop to
read its reply. With one task per worker, a worker still sat idle while its reply waited
for the next loop iteration: under 50 busy sessions a task took 6.9 ms from its dispatch
to its reply for 2.2 ms in the worker, so two workers did ~290 tasks a second and opens
queued 130 ms for them (benchmarks/README.md). A task waits behind another only while
that one is young: a task still running after `withdraw_after_s` gets nothing more behind
it, and what was already behind it goes back to the front of the queue for the next idle
worker; its worker, whose pipe still holds those copies, is replaced once its task ends.
While a withdrawn task waits, no pipe is filled, so the next worker to drain its pipe (at
most `pipeline` tasks, each young or withdrawn in turn) takes it, even under load. So a slow
task delays what was written behind it by at most (pipeline - 1) x withdraw_after_s, once,
plus the drain of another worker's pipe, as long as one worker runs an ordinary task.
When every worker runs a slow task at once (one per owner at most), every waiting task
waits for the first of them to end, pipelined or not: that is the pool's size. Each task's
deadline, demotion and withdrawal clocks start when it starts in the worker, not when it
is sent.

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
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.reduction import ForkingPickler
from typing import Any, ParamSpec, TypeVar, cast

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
# Tasks in one worker at once: the running one, and those waiting in its pipe.
PIPELINE = 3
# A task still running after this long holds nothing behind it: a task waiting in its
# worker's pipe goes back to the queue. Ordinary tasks take 1-2 ms (p99 12 ms under load).
WITHDRAW_AFTER_S = 0.03
# multiprocessing.Connection's frame header: a signed 32-bit size (-1: a 64-bit size follows).
_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")


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


def _ready() -> bool:
    """The first task of each worker: load what reading needs before a request waits."""
    import mailgate.mail.reading.render  # noqa: F401

    return True


def _frame(payload: bytes | memoryview) -> bytes:
    if len(payload) > 0x7FFFFFFF:
        return _HEADER.pack(-1) + _LONG_HEADER.pack(len(payload)) + payload
    return _HEADER.pack(len(payload)) + payload


@dataclass(eq=False)
class _Task:
    owner: str
    payload: bytes | memoryview  # the pickled (function, arguments)
    deadline_s: float
    future: asyncio.Future[Any]
    queued_at: float  # the loop's clock when the task was asked for
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    started_at: float = 0.0  # the loop's clock when it became its worker's running task
    withdrawn: bool = False  # it waited behind a slow task once: only an idle worker now


class _Process:
    """One worker process, started (and waited for) in one of the pool's threads."""

    def __init__(self, context: _Context):
        parent, child = context.Pipe()
        self.conn = parent
        self.process = context.Process(
            target=_serve, args=(child,), daemon=True, name="mailgate-reading"
        )
        self.process.start()
        child.close()
        try:
            self.conn.send((_ready, ()))
            if not self.conn.poll(_START_TIMEOUT_S):
                raise WorkerTimeout()
            kind, value = self.conn.recv()
            if kind != "ok":
                raise WorkerFailed(value)
        except (EOFError, OSError) as exc:
            self.kill()
            raise WorkerFailed(type(exc).__name__, lost=True) from None
        except (WorkerTimeout, WorkerFailed):
            self.kill()
            raise

    def kill(self) -> None:
        """Blocking (it waits for the process): run in one of the pool's threads."""
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(2)
        with contextlib.suppress(Exception):
            self.conn.close()


class _Worker(asyncio.Protocol):
    """A started worker on the event loop: its socket's transport and the tasks sent to
    it, in order (the first is the one it runs; its replies come in the same order)."""

    def __init__(self, pool: WorkerPool, process: _Process):
        self.pool = pool
        self.process = process
        self.transport: asyncio.Transport | None = None
        self.tasks: deque[_Task] = deque()
        self.demoted = False
        # Tasks were withdrawn from its pipe: it is replaced once its running task ends.
        self.closing = False
        self.gone = False
        self._buffer = bytearray()

    @property
    def task(self) -> _Task | None:
        """The task it runs now."""
        return self.tasks[0] if self.tasks else None

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.process.pid
        return pid

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if len(self._buffer) < _HEADER.size:
                return
            (size,) = _HEADER.unpack_from(self._buffer)
            start = _HEADER.size
            if size == -1:
                if len(self._buffer) < start + _LONG_HEADER.size:
                    return
                (size,) = _LONG_HEADER.unpack_from(self._buffer, start)
                start += _LONG_HEADER.size
            if len(self._buffer) < start + size:
                return
            payload = bytes(self._buffer[start : start + size])
            del self._buffer[: start + size]
            self.pool._replied(self, payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool._lost(self)

    def send(self, task: _Task) -> None:
        assert self.transport is not None
        self.tasks.append(task)
        self.transport.write(_frame(task.payload))

    def demote(self) -> None:
        """Lower the worker below the server (allowed for one's own processes; raising
        it back is not, hence the replacement)."""
        self.demoted = True
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, _WORKER_NICENESS)

    def close(self) -> None:
        """Stop listening; the process itself is killed by the pool (in a thread)."""
        self.gone = True
        if self.transport is not None:
            self.transport.close()


class WorkerPool:
    def __init__(
        self,
        size: int = 2,
        *,
        per_owner: int | None = None,
        start_method: str = "forkserver",
        demote_after_s: float | None = DEMOTE_AFTER_S,
        pipeline: int = PIPELINE,
        withdraw_after_s: float = WITHDRAW_AFTER_S,
    ):
        if size < 1 or pipeline < 1:
            raise ValueError("size and pipeline must be at least 1")
        self.size = size
        self.pipeline = pipeline
        self.withdraw_after_s = withdraw_after_s
        self.per_owner = per_owner if per_owner is not None else max(1, size // 2)
        context = multiprocessing.get_context(start_method)
        assert isinstance(context, _Context)  # typeshed: get_context(str) -> BaseContext
        if isinstance(context, ForkServerContext):
            # The fork server imports the renderer once; each worker is a fork of it.
            context.set_forkserver_preload(["mailgate.mail.reading.render"])
        self._context = context
        self.demote_after_s = demote_after_s
        self._background: set[asyncio.Task[None]] = set()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0
        self._queue: deque[_Task] = deque()
        self._running: dict[str, int] = {}  # tasks in workers, by owner
        # For starting and stopping workers (blocking steps), never for a task's round trip.
        self._threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="reading")
        self._closed = False
        self.counters: dict[str, int] = {
            "tasks": 0,
            "timeouts": 0,
            "failures": 0,
            "demoted": 0,
            "withdrawn": 0,
        }
        # Seconds the tasks that started waited for that (in the queue, then in a pipe),
        # summed: with "tasks", the mean wait (/metrics), which says when reading needs
        # more cores.
        self.queue_wait_s = 0.0

    @property
    def waiting(self) -> int:
        """Tasks waiting for a worker now."""
        return len(self._queue)

    async def start(self) -> None:
        """Start every worker now (each takes a moment to import), so no request waits."""
        missing = max(0, self.size - len(self._idle) - len(self._busy) - self._starting)
        self._starting += missing
        await asyncio.gather(*(self._start_one() for _ in range(missing)))

    async def _start_one(self) -> None:
        """One worker more (``_starting`` was counted by the caller)."""
        loop = asyncio.get_running_loop()
        try:
            process = await loop.run_in_executor(self._threads, _Process, self._context)
            worker = _Worker(self, process)
            sock = socket.socket(fileno=os.dup(process.conn.fileno()))
            await loop.connect_accepted_socket(lambda: worker, sock)
        finally:
            self._starting -= 1
        if self._closed:
            self._kill(worker)
            return
        self._idle.append(worker)
        self._dispatch()

    def pids(self) -> list[int]:
        return [w.pid for w in (*self._idle, *self._busy) if w.pid is not None]

    async def run(
        self, owner: str, deadline_s: float, fn: Callable[P, T], *args: P.args, **_: P.kwargs
    ) -> T:
        """Run ``fn(*args)`` in a worker within ``deadline_s`` of it starting there.

        Raises WorkerTimeout (the worker is killed and replaced) or WorkerFailed."""
        if self._closed:
            raise WorkerFailed("closed")
        loop = asyncio.get_running_loop()
        payload = ForkingPickler.dumps((fn, args))
        task = _Task(owner, payload, deadline_s, loop.create_future(), loop.time())
        self._queue.append(task)
        self._dispatch()
        try:
            result: T = await task.future
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        return result

    # -- dispatch (event-loop callbacks) ----------------------------------------------------

    def _dispatch(self) -> None:
        """Give waiting tasks to idle workers, then to the pipes of busy ones with room,
        oldest first among owners under their share; start workers the pool is missing."""
        if self._closed:
            return
        while self._queue:
            idle = bool(self._idle)
            if idle:
                worker: _Worker | None = self._idle[-1]
            elif self._withdrawn_waiting():
                # Pipes are not filled while a withdrawn task waits: the next worker
                # whose pipe drains is idle and takes it. Filled pipes would keep every
                # worker busy under load, and the task would wait for the slow one after all.
                break
            else:
                worker = self._with_room()
            if worker is None:
                break
            task = next(
                (
                    t
                    for t in self._queue
                    if self._running.get(t.owner, 0) < self.per_owner and (idle or not t.withdrawn)
                ),
                None,
            )
            if task is None:
                break
            self._queue.remove(task)
            if self._idle and worker is self._idle[-1]:
                self._idle.pop()
            self._assign(worker, task)
        if self._queue:
            self._replenish()

    def _withdrawn_waiting(self) -> bool:
        """A withdrawn task waits that its owner's share lets run now."""
        return any(
            t.withdrawn and self._running.get(t.owner, 0) < self.per_owner for t in self._queue
        )

    def _with_room(self) -> _Worker | None:
        """The busy worker to queue a task behind: room in its pipe, a young running task
        (the fewest tasks, then the task started first). None while a worker is starting:
        the new one is about to be idle."""
        if self.pipeline < 2 or self._starting:
            return None
        young = asyncio.get_running_loop().time() - self.withdraw_after_s
        candidates = [
            w
            for w in self._busy
            if len(w.tasks) < self.pipeline
            and not (w.closing or w.demoted or w.gone)
            and w.tasks[0].started_at > young
        ]
        return min(candidates, key=lambda w: (len(w.tasks), w.tasks[0].started_at), default=None)

    def _replenish(self) -> None:
        """Start the workers the pool is missing, in the background."""
        missing = self.size - len(self._idle) - len(self._busy) - self._starting
        if missing > 0 and not self._closed:
            self._starting += missing
            for _ in range(missing):
                self._spawn(self._start_one())

    def _assign(self, worker: _Worker, task: _Task) -> None:
        self._busy.add(worker)
        self._running[task.owner] = self._running.get(task.owner, 0) + 1
        worker.send(task)
        if len(worker.tasks) == 1:
            self._started(worker, task)

    def _started(self, worker: _Worker, task: _Task) -> None:
        """``task`` is the one ``worker`` runs now: its clocks start. It is counted here,
        once, with its whole wait (in the queue and in a pipe): a task given back was
        written to a worker before and never started there."""
        loop = asyncio.get_running_loop()
        task.started_at = loop.time()
        self.counters["tasks"] += 1
        self.queue_wait_s += task.started_at - task.queued_at
        task.timers.append(loop.call_later(task.deadline_s, self._expired, worker, task))
        if self.demote_after_s is not None and self.demote_after_s < task.deadline_s:
            task.timers.append(loop.call_later(self.demote_after_s, self._demote, worker))
        if self.pipeline > 1 and self.withdraw_after_s < task.deadline_s:
            task.timers.append(loop.call_later(self.withdraw_after_s, self._withdraw, worker))

    def _finish(self, task: _Task) -> None:
        """The task left its worker: stop its clocks, free its owner's share."""
        for timer in task.timers:
            timer.cancel()
        task.timers.clear()
        left = self._running.get(task.owner, 1) - 1
        if left:
            self._running[task.owner] = left
        else:
            self._running.pop(task.owner, None)

    def _replied(self, worker: _Worker, payload: bytes) -> None:
        if not worker.tasks or worker.gone:
            return
        task = worker.tasks.popleft()
        self._finish(task)
        kind, value = ForkingPickler.loads(payload)
        if not task.future.done():
            if kind == "error":
                self.counters["failures"] += 1
                task.future.set_exception(WorkerFailed(value))
            else:
                task.future.set_result(value)
        if worker.demoted or worker.closing:
            if worker.demoted:
                self.counters["demoted"] += 1
            self._retire(worker)
        elif worker.tasks:
            self._started(worker, worker.tasks[0])
        else:
            self._busy.discard(worker)
            self._idle.append(worker)
        self._dispatch()

    def _expired(self, worker: _Worker, task: _Task) -> None:
        self.counters["timeouts"] += 1
        worker.tasks.popleft()
        self._finish(task)
        if not task.future.done():
            task.future.set_exception(WorkerTimeout())
        self._retire(worker)
        self._dispatch()

    def _demote(self, worker: _Worker) -> None:
        self._withdraw(worker)
        worker.demote()

    def _withdraw(self, worker: _Worker) -> None:
        """The running task is slow: the tasks behind it go back to the front of the
        queue, and the worker (their copies still in its pipe) is replaced after it."""
        if len(worker.tasks) > 1:
            worker.closing = True
            self._requeue(worker, keep=1, withdrawn=True)
            self._dispatch()

    def _requeue(self, worker: _Worker, *, keep: int, withdrawn: bool = False) -> None:
        """The tasks sent to ``worker`` after its first ``keep`` never started: back to
        the front of the queue, in their order."""
        while len(worker.tasks) > keep:
            task = worker.tasks.pop()
            self._finish(task)
            if task.future.done():
                continue  # abandoned while in the pipe: nobody waits for it any more
            if withdrawn:  # from behind a slow task: for an idle worker only
                self.counters["withdrawn"] += 1
                task.withdrawn = True
            self._queue.appendleft(task)

    def _lost(self, worker: _Worker) -> None:
        """The worker's socket closed: it died (or we closed it)."""
        if worker.gone:
            return
        if worker in self._idle:
            self._idle.remove(worker)
        if worker.tasks:
            task = worker.tasks.popleft()
            self.counters["failures"] += 1
            self._finish(task)
            if not task.future.done():
                task.future.set_exception(WorkerFailed("EOFError", lost=True))
        self._retire(worker)
        self._dispatch()

    def _abandon(self, task: _Task) -> None:
        """The request went away: a waiting task is dropped; a running one's worker is
        killed (it computes something nobody will read) and replaced. A task waiting in a
        worker's pipe runs when its turn comes (a task's time, within its deadline), and
        its result is dropped."""
        if task in self._queue:
            self._queue.remove(task)
            if task.withdrawn:
                self._dispatch()  # pipes may be filled again
            return
        worker = next((w for w in self._busy if w.task is task), None)
        if worker is not None:
            worker.tasks.popleft()
            self._finish(task)
            self._retire(worker)
            self._dispatch()

    def _retire(self, worker: _Worker) -> None:
        """Stop ``worker`` and start its replacement, in the background; what it had not
        started goes back to the queue (the caller took its running task out)."""
        self._busy.discard(worker)
        self._requeue(worker, keep=0)
        self._kill(worker)
        self._replenish()

    def _kill(self, worker: _Worker) -> None:
        worker.close()
        loop = asyncio.get_running_loop()
        self._spawn(loop.run_in_executor(self._threads, worker.process.kill))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A worker that could not start: the tasks waiting for it are not left hanging.
            while self._queue and not self._idle and not self._busy and not self._starting:
                waiting = self._queue.popleft()
                if not waiting.future.done():
                    waiting.future.set_exception(WorkerFailed("start", lost=True))

    async def close(self) -> None:
        self._closed = True
        for task in list(self._background):
            task.cancel()
        for waiting in self._queue:
            if not waiting.future.done():
                waiting.future.set_exception(WorkerFailed("closed"))
        self._queue.clear()
        workers = [*self._idle, *self._busy]
        self._idle, self._busy = [], set()
        for worker in workers:
            worker.close()
            for sent in worker.tasks:
                for timer in sent.timers:
                    timer.cancel()  # a late deadline would kill through a closed executor
                if not sent.future.done():
                    sent.future.set_exception(WorkerFailed("closed"))
            worker.process.kill()
        self._threads.shutdown(wait=False, cancel_futures=True)
