"""Property tests for the reading pipeline's limits (issue 15): generated nested MIME and
HTML; the scans see the true shape, the limits hold, and a view is always produced within
the deadline (in a real worker process for the pool's own guarantees)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

import nh3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailgate.mail.reading.limits import ReadingLimits, bound_html, scan_mime
from mailgate.mail.reading.render import NOTICE_TOO_COMPLEX, render_whole
from mailgate.mail.reading.workers import WorkerFailed, WorkerPool, WorkerTimeout
from tests.unit import reading_tasks

SMALL = ReadingLimits(mime_depth=6, parts=12, html_depth=10, html_elements=60)

# -- MIME trees ----------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # "text", "html", "multipart", "message"
    children: list[Node]

    def depth(self) -> int:
        if self.kind == "multipart":
            return 1 + max((c.depth() for c in self.children), default=0)
        if self.kind == "message":
            return 1 + self.children[0].depth()
        return 0

    def parts(self) -> int:
        """Header blocks after the top one that a boundary opens (body parts)."""
        if self.kind == "multipart":
            return len(self.children) + sum(c.parts() for c in self.children)
        if self.kind == "message":
            return self.children[0].parts()
        return 0


leaves = st.sampled_from(["text", "html"]).map(lambda k: Node(k, []))
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map(lambda kids: Node("multipart", kids)),
        inner.map(lambda child: Node("message", [child])),
    ),
    max_leaves=30,
)


def _render(node: Node, counter: list[int]) -> bytes:
    counter[0] += 1
    n = counter[0]
    if node.kind == "text":
        return b"Content-Type: text/plain; charset=utf-8\r\n\r\nplain %d\r\n" % n
    if node.kind == "html":
        return b"Content-Type: text/html\r\n\r\n<div><p>html %d</p></div>\r\n" % n
    if node.kind == "message":
        inner = _render(node.children[0], counter)
        return b"Content-Type: message/rfc822\r\n\r\nSubject: inner %d\r\n" % n + inner
    boundary = b"b%d" % n
    out = [b'Content-Type: multipart/mixed; boundary="%s"\r\n\r\npreamble\r\n' % boundary]
    for child in node.children:
        out.append(b"--%s\r\n" % boundary + _render(child, counter))
    out.append(b"--%s--\r\n" % boundary)
    return b"".join(out)


def _message(tree: Node) -> bytes:
    return b"From: a@example.test\r\nSubject: generated\r\n" + _render(tree, [0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_the_mime_scan_sees_the_true_depth_and_part_count(tree: Node) -> None:
    shape = scan_mime(_message(tree), ReadingLimits(mime_depth=1000, parts=100_000))
    assert shape.exceeded is None
    assert shape.depth == tree.depth()
    assert shape.parts == tree.parts() + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_a_message_past_a_limit_gets_the_degraded_view_and_others_the_full_one(
    tree: Node,
) -> None:
    raw = _message(tree)
    started = time.monotonic()
    rendered = render_whole(raw, SMALL)
    assert time.monotonic() - started < SMALL.deadline_s
    too_deep = tree.depth() > SMALL.mime_depth
    too_wide = tree.parts() + 1 > SMALL.parts
    assert rendered.degraded is (too_deep or too_wide)
    assert rendered.view.subject == "generated"
    if rendered.degraded:
        assert rendered.view.text == NOTICE_TOO_COMPLEX and rendered.view.html is None
    assert rendered.document is not None or rendered.view.html is not None


# -- HTML trees ----------------------------------------------------------------------------

TAGS = ["div", "span", "table", "b", "blockquote", "ul", "font", "section", "td", "p", "br"]
html_trees = st.recursive(
    st.text(alphabet="abcxyz ", min_size=1, max_size=5).map(lambda t: ("text", t)),
    lambda inner: st.tuples(st.sampled_from(TAGS), st.lists(inner, max_size=3)),
    max_leaves=80,
)


def _html(tree: object) -> str:
    if isinstance(tree, tuple) and tree[0] == "text":
        return str(tree[1])
    tag, children = tree  # type: ignore[misc]
    inner = "".join(_html(c) for c in children)
    return f"<{tag}>{inner}</{tag}>" if tag != "br" else f"<br>{inner}"


def _scanned_depth(html: str) -> int:
    return bound_html(html, ReadingLimits(html_depth=10_000, html_elements=10**6)).depth


@settings(max_examples=150, deadline=None)
@given(html_trees, st.integers(min_value=0, max_value=300))
def test_bounded_html_is_shallow_small_and_keeps_the_text(tree: object, extra: int) -> None:
    # Generated trees plus a chain of `extra` nested divs around them.
    html = "<div>" * extra + _html(tree) + "</div>" * extra
    bounded = bound_html(html, SMALL)
    assert _scanned_depth(bounded.html) <= SMALL.html_depth
    assert bounded.elements - bounded.flattened <= SMALL.html_elements
    # Flattening drops tags, never text (a parser may move text out of a table: compare
    # the characters, not their order).
    assert _characters(bounded.html) == _characters(html)


def _characters(html: str) -> list[str]:
    return sorted(nh3.clean(html, tags=set()).replace(" ", ""))


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1000, max_value=60_000), st.sampled_from(["div", "table", "b"]))
def test_deep_html_of_any_size_sanitizes_quickly(depth: int, tag: str) -> None:
    html = f"<{tag}>" * depth + "bottom"
    started = time.monotonic()
    rendered = render_whole(
        b"Subject: deep\r\nContent-Type: text/html\r\n\r\n" + html.encode(), ReadingLimits()
    )
    assert time.monotonic() - started < 2.0
    assert not rendered.degraded and rendered.document is not None
    assert "bottom" in rendered.document


# -- the worker pool -----------------------------------------------------------------------


@pytest.fixture
async def pool():
    workers = WorkerPool(2, start_method="spawn")
    await workers.start()
    yield workers
    await workers.close()


async def test_a_worker_past_its_deadline_is_killed_and_replaced(pool: WorkerPool) -> None:
    started = time.monotonic()
    with pytest.raises(WorkerTimeout):
        await pool.run("a", 0.5, reading_tasks.sleep_then_pid, 30.0)
    assert time.monotonic() - started < 5.0
    assert pool.counters["timeouts"] == 1
    # The pool still has its workers: both serve at once.
    pids = await asyncio.gather(
        pool.run("b", 5.0, reading_tasks.sleep_then_pid, 0.3),
        pool.run("c", 5.0, reading_tasks.sleep_then_pid, 0.3),
    )
    assert len(set(pids)) == 2


async def test_the_wait_for_a_worker_is_summed_for_metrics(pool: WorkerPool) -> None:
    """One owner holds one worker at a time: its second task waits for the first (0.4 s)
    while the other worker is free; a task that finds a worker waits (almost) nothing."""
    assert pool.queue_wait_s == 0.0 and pool.waiting == 0
    first = asyncio.create_task(pool.run("a", 5.0, reading_tasks.sleep_then_pid, 0.4))
    second = asyncio.create_task(pool.run("a", 5.0, reading_tasks.sleep_then_pid, 0.0))
    await asyncio.sleep(0.1)
    assert pool.waiting == 1  # the second, behind its owner's share
    await asyncio.gather(first, second)
    assert pool.waiting == 0
    assert 0.25 <= pool.queue_wait_s < 2.0
    before = pool.queue_wait_s
    await pool.run("b", 5.0, reading_tasks.sleep_then_pid, 0.0)
    assert pool.queue_wait_s - before < 0.05
    assert pool.counters["tasks"] == 3


async def test_an_error_in_the_worker_is_reported_by_class_only(pool: WorkerPool) -> None:
    with pytest.raises(WorkerFailed, match=r"^ValueError$"):
        await pool.run("a", 5.0, reading_tasks.fail)
    assert await pool.run("a", 5.0, reading_tasks.sleep_then_pid, 0.0) > 0


async def test_a_worker_that_dies_mid_task_is_reported_lost_and_replaced(pool: WorkerPool) -> None:
    with pytest.raises(WorkerFailed) as failed:
        await pool.run("a", 5.0, reading_tasks.die)
    assert failed.value.lost
    assert pool.counters["failures"] == 1
    # The dead worker was not put back: two tasks at once still get two live workers.
    pids = await asyncio.gather(
        pool.run("b", 5.0, reading_tasks.sleep_then_pid, 0.3),
        pool.run("c", 5.0, reading_tasks.sleep_then_pid, 0.3),
    )
    assert len(set(pids)) == 2 and all(p > 0 for p in pids)


async def test_a_request_that_goes_away_frees_its_worker_and_its_place(pool: WorkerPool) -> None:
    """Cancelled while running: the worker (computing for nobody) is killed and replaced.
    Cancelled while waiting: the task never runs, and the owner's share is not held."""
    running = asyncio.create_task(pool.run("a", 30.0, reading_tasks.sleep_then_pid, 30.0))
    waiting = asyncio.create_task(pool.run("a", 30.0, reading_tasks.sleep_then_pid, 0.0))
    await asyncio.sleep(0.3)
    first = set(pool.pids())
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    running.cancel()
    for task in (running, waiting):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert pool.counters["tasks"] == 1  # the waiting one never reached a worker
    pids = await asyncio.gather(
        pool.run("a", 5.0, reading_tasks.sleep_then_pid, 0.3),
        pool.run("b", 5.0, reading_tasks.sleep_then_pid, 0.3),
    )
    assert len(set(pids)) == 2
    assert not first <= set(pool.pids())  # the cancelled task's worker was replaced


async def test_payloads_larger_than_the_socket_buffer_travel_whole(pool: WorkerPool) -> None:
    """The event loop writes and reads the worker's socket itself: a task and a reply of
    several MiB (far beyond one socket buffer) arrive intact, in both directions."""
    data = os.urandom(3 * 1024 * 1024 + 7)
    for _ in range(3):
        assert await pool.run("a", 10.0, reading_tasks.echo_reversed, data) == data[::-1]
    assert await pool.run("a", 5.0, reading_tasks.echo_reversed, b"") == b""


async def test_one_session_holds_at_most_its_share_of_the_workers(pool: WorkerPool) -> None:
    assert pool.per_owner == 1
    finished: list[str] = []

    async def task(owner: str, seconds: float) -> None:
        await pool.run(owner, 10.0, reading_tasks.sleep_then_pid, seconds)
        finished.append(owner)

    greedy = [asyncio.create_task(task("greedy", 0.6)) for _ in range(4)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await task("other", 0.1)
    # Served by the second worker while the greedy session's tasks queue behind each other.
    assert time.monotonic() - started < 0.6
    assert finished.count("greedy") <= 1
    await asyncio.gather(*greedy)


async def test_a_busy_worker_takes_the_next_task_into_its_pipe() -> None:
    """With a pipeline, a task for a busy (young) worker is written to its pipe at once,
    not held in the queue: the worker goes on to it without waiting for the event loop.
    A task abandoned in the pipe runs and is dropped; the worker is not replaced."""
    for depth, waiting in ((1, 1), (3, 0)):
        pool = WorkerPool(
            1, start_method="spawn", pipeline=depth, withdraw_after_s=5.0, demote_after_s=None
        )
        await pool.start()
        try:
            first = asyncio.create_task(pool.run("a", 5.0, reading_tasks.sleep_then_pid, 0.4))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(pool.run("b", 5.0, reading_tasks.sleep_then_pid, 0.0))
            dropped = asyncio.create_task(pool.run("c", 5.0, reading_tasks.sleep_then_pid, 0.0))
            await asyncio.sleep(0.05)
            assert pool.waiting == 2 * waiting
            dropped.cancel()
            pids = await asyncio.gather(first, second)
            assert len(set(pids)) == 1
            assert await pool.run("d", 5.0, reading_tasks.sleep_then_pid, 0.0) == pids[0]
            assert pool.counters["tasks"] == 4 - waiting  # a queued task cancelled never ran
        finally:
            await pool.close()


async def test_a_slow_task_gives_back_what_waits_behind_it() -> None:
    """A task queued behind one that turns out slow goes back to the queue and is served
    by the next idle worker, long before the slow one ends (not queued behind another busy
    one again); the slow one's worker, whose pipe held the copy, is replaced afterwards."""
    pool = WorkerPool(2, start_method="spawn", withdraw_after_s=0.1, demote_after_s=None)
    await pool.start()
    try:
        slow = asyncio.create_task(pool.run("a", 10.0, reading_tasks.sleep_then_pid, 2.0))
        await asyncio.sleep(0.02)
        medium = asyncio.create_task(pool.run("b", 10.0, reading_tasks.sleep_then_pid, 0.5))
        await asyncio.sleep(0.02)
        started = time.monotonic()
        # Both workers are young: it goes behind the task that started first (the slow one).
        behind = await pool.run("c", 10.0, reading_tasks.sleep_then_pid, 0.0)
        assert time.monotonic() - started < 1.2
        assert not slow.done()
        assert behind == await medium
        slow_pid = await slow
        # Counted once each, when they started; the one given back counted as such.
        assert pool.counters["tasks"] == 3 and pool.counters["withdrawn"] == 1
        assert slow_pid != behind
        for _ in range(100):
            if slow_pid not in pool.pids() and len(pool.pids()) == 2:
                break
            await asyncio.sleep(0.05)
        assert slow_pid not in pool.pids() and len(pool.pids()) == 2
    finally:
        await pool.close()


async def test_a_task_given_back_is_served_while_the_slow_one_runs_under_load() -> None:
    """Under steady load no worker is ever idle if pipes keep being filled: a task given
    back by a slow worker must still get the next worker that drains, not wait for the slow
    task's end (up to its deadline)."""
    pool = WorkerPool(2, start_method="spawn", withdraw_after_s=0.1, demote_after_s=None)
    await pool.start()
    stop = False

    async def load(owner: str) -> None:
        while not stop:
            await pool.run(owner, 5.0, reading_tasks.sleep_then_pid, 0.003)

    loaders: list[asyncio.Task[None]] = []
    try:
        slow = asyncio.create_task(pool.run("slow", 10.0, reading_tasks.sleep_then_pid, 5.0))
        await asyncio.sleep(0)
        loaders.append(asyncio.create_task(load("s0")))
        await asyncio.sleep(0)
        victim = asyncio.create_task(pool.run("victim", 5.0, reading_tasks.sleep_then_pid, 0.0))
        await asyncio.sleep(0)
        # The scenario: both workers busy, the victim written behind the slow task (the
        # one that started first).
        assert any(
            [t.owner for t in w.tasks] == ["slow", "victim"]
            for w in pool._busy  # internal: no public view of a worker's pipe
        )
        loaders += [asyncio.create_task(load(f"s{i}")) for i in range(1, 8)]
        await victim
        # Without the fix it waits for the slow task's end (5 s).
        assert not slow.done()
        assert pool.counters["withdrawn"] >= 1
        stop = True
        await asyncio.gather(slow, *loaders)
    finally:
        stop = True
        for loader in loaders:
            loader.cancel()
        await pool.close()


async def test_a_task_abandoned_in_a_pipe_is_not_run_again_when_given_back() -> None:
    pool = WorkerPool(2, start_method="spawn", withdraw_after_s=0.2, demote_after_s=None)
    await pool.start()
    try:
        first = asyncio.create_task(pool.run("a", 5.0, reading_tasks.sleep_then_pid, 1.0))
        await asyncio.sleep(0)
        second = asyncio.create_task(pool.run("b", 5.0, reading_tasks.sleep_then_pid, 1.0))
        await asyncio.sleep(0)
        gone = asyncio.create_task(pool.run("c", 5.0, reading_tasks.sleep_then_pid, 0.3))
        await asyncio.sleep(0.01)
        assert pool.waiting == 0  # in the first worker's pipe
        gone.cancel()
        await asyncio.sleep(0.4)  # the first task is slow: what is behind it is given back
        assert pool.waiting == 0
        await asyncio.gather(first, second)
        await asyncio.sleep(0.05)
        # The abandoned one never started (it was not given out again); nothing was given back.
        assert pool.counters["tasks"] == 2 and pool.counters["withdrawn"] == 0
    finally:
        await pool.close()


@pytest.mark.parametrize("fate", ["overrun", "crash"])
async def test_a_task_behind_one_that_overruns_or_dies_runs_on_a_new_worker(fate: str) -> None:
    pool = WorkerPool(1, start_method="spawn", withdraw_after_s=30.0, demote_after_s=None)
    await pool.start()
    try:
        (old,) = pool.pids()
        if fate == "overrun":
            doomed = pool.run("a", 0.5, reading_tasks.sleep_then_pid, 30.0)
            expected: type[Exception] = WorkerTimeout
        else:
            doomed = pool.run("a", 5.0, reading_tasks.sleep_then_die, 0.3)
            expected = WorkerFailed
        first = asyncio.create_task(doomed)
        await asyncio.sleep(0.05)
        behind = asyncio.create_task(pool.run("b", 5.0, reading_tasks.sleep_then_pid, 0.0))
        await asyncio.sleep(0.05)
        assert pool.waiting == 0  # in the doomed worker's pipe
        with pytest.raises(expected):
            await first
        assert await behind not in (old, 0)
        assert pool.counters["withdrawn"] == 0  # re-queued, not given back from a slow one
    finally:
        await pool.close()


async def test_an_expensive_task_yields_to_the_server_and_its_worker_is_replaced() -> None:
    """Ordinary tasks run at the server's priority; one still running after demote_after_s
    is lowered to niceness 10 while it runs, and its worker is replaced afterwards (a
    fork of the fork server, at the server's priority again)."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    pool = WorkerPool(1, demote_after_s=0.1)
    await pool.start()
    try:
        first, nice = await pool.run("a", 5.0, reading_tasks.niceness)
        assert nice == base and pool.counters["demoted"] == 0
        busy, nice = await pool.run("a", 5.0, reading_tasks.busy_then_niceness, 0.5)
        assert busy == first and nice == min(19, base + 10)
        for _ in range(200):
            if pool.counters["demoted"] == 1 and pool.pids():
                break
            await asyncio.sleep(0.05)
        fresh, nice = await pool.run("a", 5.0, reading_tasks.niceness)
        assert fresh != busy and nice == base
        assert busy not in pool.pids()
    finally:
        await pool.close()


async def test_a_message_past_its_deadline_gets_the_degraded_view_with_its_headers() -> None:
    from mailgate.mail.ids import MessageRef
    from mailgate.mail.reader import FetchedForReading
    from mailgate.mail.reading.service import ReadingService

    workers = WorkerPool(1)
    # Sanitizing this takes far longer than 10 ms: the worker is killed.
    service = ReadingService(None, workers, ReadingLimits(deadline_s=0.01))  # type: ignore[arg-type]
    raw = (
        b"From: Ann <ann@example.test>\r\nSubject: slow\r\nContent-Type: text/html\r\n\r\n"
        + b'<p style="color:red">x</p>' * 20_000
    )
    fetched = FetchedForReading(
        MessageRef("INBOX", 1, 1), frozenset(), len(raw), None, None, raw, raw
    )
    try:
        rendered = await service._render("session", fetched)
    finally:
        await workers.close()
    assert rendered.degraded and rendered.limit == "deadline"
    assert rendered.view.subject == "slow"
    assert rendered.view.from_ == [{"name": "Ann", "email": "ann@example.test"}]
    assert workers.counters["timeouts"] == 1
