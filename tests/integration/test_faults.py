"""Fault injection (issue 8): a hung IMAP server, a full disk, a client that vanishes
mid-download, slow clients, and malformed or oversized input. Real servers throughout; a
relay, a patched write or a raw socket only injects the fault."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mailgate.session.tokens import COOKIE_NAME
from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate
from tests.conftest import Upstream
from tests.integration.mailfactory import with_attachment
from tests.integration.stall_relay import StallRelay

IMAP_TIMEOUT = 1.0
# What a 502 may take beyond the IMAP timeout. Less than another timeout, so a retry
# that doubles the wait would fail the test.
MARGIN = 0.7


async def _inbox_id(api: ApiClient) -> str:
    resp = await api.get("/api/mailboxes")
    assert resp.status == 200, resp
    return next(b["id"] for b in resp.json()["mailboxes"] if b["role"] == "inbox")


# -- 1. the IMAP server hangs mid-session ------------------------------------------------------


async def test_hung_upstream_gives_502_in_bounded_time_and_others_are_served(
    make_mailgate: Any, upstream: Upstream
) -> None:
    relay = StallRelay(upstream.settings["imap"]["port"])
    try:
        mg: RunningMailgate = make_mailgate(
            imap={"port": relay.port, "timeout_s": IMAP_TIMEOUT, "idle_close_s": 600}
        )
        hung_user, healthy_user = upstream.new_user(), upstream.new_user()
        async with (
            ApiClient(mg.url, mg.client_ssl()) as hung,
            ApiClient(mg.url, mg.client_ssl()) as healthy,
        ):
            assert (await hung.login(*hung_user)).status == 201
            assert (await healthy.login(*healthy_user)).status == 201
            assert len(relay.links) == 2  # one upstream connection per session, in order
            inbox = await _inbox_id(hung)
            listing = f"/api/mailboxes/{inbox}/messages"
            assert (await hung.get(listing)).status == 200
            healthy_listing = f"/api/mailboxes/{await _inbox_id(healthy)}/messages"
            assert (await healthy.get(healthy_listing)).status == 200

            # The first session's server stops answering mid-session, and so does any
            # connection opened to it from now on (a wedged server accepts, then hangs).
            relay.stall(relay.links[0], new=True)
            started = time.monotonic()
            pending = asyncio.create_task(hung.get(listing))
            await asyncio.sleep(0.1)
            # Meanwhile the event loop serves the other session at its usual pace.
            for _ in range(3):
                t0 = time.monotonic()
                resp = await healthy.get(healthy_listing)
                assert resp.status == 200, resp
                assert time.monotonic() - t0 < IMAP_TIMEOUT / 2
            assert not pending.done()

            resp = await pending
            elapsed = time.monotonic() - started
            assert resp.status == 502 and resp.error_code == "upstream_unavailable", resp
            assert IMAP_TIMEOUT * 0.9 <= elapsed < IMAP_TIMEOUT + MARGIN, elapsed
            # The wedged connection was dropped, not kept for the next request.
            assert mg.services.pool.open_count() == 1

            relay.thaw()
            links_before = len(relay.links)
            resp = await hung.get(listing)
            assert resp.status == 200, resp  # reconnected with the session's credentials
            assert len(relay.links) == links_before + 1
            assert mg.services.pool.open_count() == 2
            assert mg.services.sessions.counters.get("login") == 2  # no new login needed
    finally:
        relay.close()


# -- 2. the vault's disk is full -----------------------------------------------------------------


def _vault_files(mg: RunningMailgate) -> list[Path]:
    return [p for p in mg.services.vault.root.rglob("*") if p.is_file()]


async def _upload(api: ApiClient, data: bytes) -> Any:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="f.bin", content_type="application/octet-stream")
    return await api.post("/api/uploads", data=form)


async def _assert_full_disk_answer(api: ApiClient, mg: RunningMailgate, size: int) -> None:
    resp = await _upload(api, os.urandom(size))
    assert resp.status == 507 and resp.error_code == "storage_full", resp
    assert _vault_files(mg) == []  # the partial ciphertext is gone
    assert (await api.get("/api/uploads")).json()["uploads"] == []


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_full_tmpfs_answers_507_and_leaves_nothing(
    make_mailgate: Any, user: tuple[str, str]
) -> None:
    mg: RunningMailgate = make_mailgate()
    root = mg.services.vault.root
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(root)],
            capture_output=True,
            text=True,
        )
        refusal = mounted.stderr.strip() if mounted.returncode else ""
    except FileNotFoundError:
        refusal = "no mount command"
    if refusal:
        pytest.skip(
            f"cannot mount a 2 MiB tmpfs here ({refusal}; it needs root and mount rights); "
            "test_enospc_while_writing_answers_507 covers the same fault"
        )
    try:
        async with ApiClient(mg.url, mg.client_ssl()) as api:
            assert (await api.login(*user)).status == 201
            await _assert_full_disk_answer(api, mg, 3 * 1024 * 1024)
            # The space of the failed upload was given back: a file that fits is stored.
            ok = await _upload(api, os.urandom(500_000))
            assert ok.status == 201, ok
            assert len((await api.get("/api/uploads")).json()["uploads"]) == 1
    finally:
        subprocess.run(["umount", str(root)], check=True)


class _FullDisk:
    """Stands in for `os` inside mailgate.vault.files. The files it opens take `room`
    bytes in all, and only the first `files` of them take any; past that every write
    fails with ENOSPC, as on a full disk (what did fit stays on disk)."""

    def __init__(self, room: int, files: int = 2) -> None:
        self.free = room
        self.files = files
        self.opened = 0
        self.written = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fdopen(self, fd: int, *args: Any, **kwargs: Any) -> _FillingFile:
        self.opened += 1
        if self.opened > self.files:
            self.free = 0
        return _FillingFile(os.fdopen(fd, *args, **kwargs), self)


class _FillingFile:
    def __init__(self, real: Any, disk: _FullDisk) -> None:
        self._real = real
        self._disk = disk

    def write(self, data: bytes) -> int:
        fits = min(self._disk.free, len(data))
        self._real.write(data[:fits])
        self._disk.free -= fits
        self._disk.written += fits
        if fits < len(data):
            self._real.flush()  # the partial file is really there
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return len(data)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
@pytest.mark.parametrize(
    ("where", "room", "files"),
    [("at once", 0, 2), ("mid-data", 300_000, 2), ("writing the metadata", 10**9, 1)],
)
async def test_enospc_while_writing_answers_507(
    make_mailgate: Any,
    user: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    room: int,
    files: int,
) -> None:
    from mailgate.vault import files as vault_files

    mg: RunningMailgate = make_mailgate()
    disk = _FullDisk(room, files)
    size = 1024 * 1024
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        monkeypatch.setattr(vault_files, "os", disk)
        await _assert_full_disk_answer(api, mg, size)
        # The fault struck where intended: none, part, or all of the data was on disk.
        if files == 1:
            assert disk.written >= size and disk.opened == 2, where
        else:
            assert disk.written == room, where
        monkeypatch.undo()
        ok = await _upload(api, b"fits now")
        assert ok.status == 201, ok


# -- 3. a client that vanishes mid-download ------------------------------------------------------


async def _server_tasks(mg: RunningMailgate) -> set[asyncio.Task[Any]]:
    async def snapshot() -> set[asyncio.Task[Any]]:
        me = asyncio.current_task()
        return {t for t in asyncio.all_tasks() if t is not me}

    return await mg.thread.acall(snapshot())


async def _open_raw(mg: RunningMailgate) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        "127.0.0.1", mg.port, ssl=mg.client_ssl(), server_hostname="localhost"
    )


async def _big_attachment_url(api: ApiClient) -> str:
    """The download URL of the newest message's attachment "big.bin"."""
    inbox = await _inbox_id(api)
    summary = (await api.get(f"/api/mailboxes/{inbox}/messages")).json()["messages"][0]
    msg = (await api.get(f"/api/messages/{summary['id']}?peek=1")).json()
    return next(a["url"] for a in msg["attachments"] if a["filename"] == "big.bin")


async def test_client_gone_mid_download_leaks_no_task_and_no_connection(
    make_mailgate: Any, upstream: Upstream, user: tuple[str, str]
) -> None:
    payload = os.urandom(6 * 1024 * 1024)
    upstream.deliver(user[0], with_attachment(payload, "big.bin"))
    mg: RunningMailgate = make_mailgate()
    pool = mg.services.pool
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        url = await _big_attachment_url(api)
        assert "/parts/" in url
        assert pool.open_count() == 1
        baseline = await _server_tasks(mg)

        for _ in range(3):
            reader, writer = await _open_raw(mg)
            writer.write(
                f"GET {url} HTTP/1.1\r\nHost: localhost:{mg.port}\r\n"
                f"Cookie: {COOKIE_NAME}={api.cookie}\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200"), head[:100]
            got = 0
            while got < 256 * 1024:
                got += len(await asyncio.wait_for(reader.read(65536), 10))
            assert await _server_tasks(mg) - baseline  # the snapshot sees the download
            writer.transport.abort()  # gone, without a goodbye

            # Every task the download started ends; none is left waiting on anything.
            deadline = time.monotonic() + 5
            while leaked := await _server_tasks(mg) - baseline:
                assert time.monotonic() < deadline, [t.get_coro() for t in leaked]
                await asyncio.sleep(0.05)
            assert pool.open_count() <= 1

        # The session's IMAP link is free and usable (or was dropped and reopens): a whole
        # download works, promptly.
        resp = await asyncio.wait_for(api.get(url), 10)
        assert resp.status == 200
        assert hashlib.sha256(resp.body).digest() == hashlib.sha256(payload).digest()
        assert pool.open_count() == 1


async def test_reader_that_stops_reading_frees_the_session_in_time(
    make_mailgate: Any, upstream: Upstream, user: tuple[str, str]
) -> None:
    """A client that keeps the connection but stops reading a download is cut off after
    server.response_write_timeout_s, so the session's IMAP link (and lock) comes back."""
    payload = os.urandom(6 * 1024 * 1024)
    upstream.deliver(user[0], with_attachment(payload, "big.bin"))
    mg: RunningMailgate = make_mailgate(server={"response_write_timeout_s": 1.0})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        url = await _big_attachment_url(api)
        # A tiny receive window, so that the server's writes back up at once.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", mg.port))
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=mg.client_ssl(), server_hostname="localhost", limit=4096
        )
        writer.write(
            f"GET {url} HTTP/1.1\r\nHost: localhost:{mg.port}\r\n"
            f"Cookie: {COOKIE_NAME}={api.cookie}\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head[:100]
        writer.transport.pause_reading()
        # Now read nothing more, and keep the connection open: the same session's next
        # request must still be served once the stall bound has passed.
        started = time.monotonic()
        resp = await asyncio.wait_for(api.get("/api/mailboxes"), 10)  # needs the IMAP link
        assert resp.status == 200
        assert time.monotonic() - started < 4
        writer.transport.abort()


# -- 4. slow clients -----------------------------------------------------------------------------

SLOW_BOUND = 1.0


async def _read_until_closed(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything the server sends until it closes (a reset counts as closing)."""
    data = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), timeout):
            data += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open after {data[:60]!r}") from None
    return data


async def _drip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pieces: list[bytes], started: float
) -> tuple[float, bytes] | None:
    """Send `pieces` one every 0.2 s (a slow client); when the server answers or closes,
    return the time that took and what it sent. None: it never did."""
    for piece in pieces:
        try:
            writer.write(piece)
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            # The server answered and closed while we waited to send this piece: the
            # answer is still in the reader (a failed drain says nothing about it).
            pass
        try:
            first = await asyncio.wait_for(reader.read(65536), 0.2)
        except TimeoutError:
            continue
        except (ConnectionError, ssl.SSLError):
            first = b""
        elapsed = time.monotonic() - started
        rest = await _read_until_closed(reader, 2) if first else b""
        return elapsed, first + rest
    return None


async def _served_promptly(mg: RunningMailgate, times: int = 5) -> None:
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        for _ in range(times):
            t0 = time.monotonic()
            assert (await api.get("/healthz")).status == 200
            assert time.monotonic() - t0 < 0.5
            await asyncio.sleep(0.15)


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_slowloris_headers_are_cut_off_while_others_are_served(make_mailgate: Any) -> None:
    mg: RunningMailgate = make_mailgate(server={"request_header_timeout_s": SLOW_BOUND})
    lines = [b"GET /healthz HTTP/1.1\r\n"] + [b"X-Drip-%d: a\r\n" % i for i in range(40)]
    conns = []
    for _ in range(20):
        reader, writer = await _open_raw(mg)
        conns.append((reader, writer, time.monotonic()))  # the bound runs from here
    drips = asyncio.gather(*(_drip(r, w, lines, t) for r, w, t in conns))
    await _served_promptly(mg)
    for result in await drips:
        assert result is not None, "a slowloris connection was never cut off"
        elapsed, answer = result
        assert SLOW_BOUND * 0.9 <= elapsed < SLOW_BOUND + 1.0, elapsed
        assert not answer.startswith(b"HTTP/1.1 2")  # closed, never served
    for _, writer, _ in conns:
        writer.close()


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_silent_and_stalled_tls_handshakes_are_cut_off(make_mailgate: Any) -> None:
    """A connection that never starts TLS, or stops halfway through its ClientHello, is
    closed after request_header_timeout_s (asyncio alone would wait 60 s)."""
    mg: RunningMailgate = make_mailgate(server={"request_header_timeout_s": SLOW_BOUND})

    async def closed_after(first: bytes) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", mg.port)
        started = time.monotonic()
        writer.write(first)
        await writer.drain()
        try:
            await _read_until_closed(reader, SLOW_BOUND + 3)
            return time.monotonic() - started
        finally:
            writer.close()

    # Nothing at all, and the first bytes of a TLS record (handshake, TLS 1.2, 512 bytes).
    timings = asyncio.gather(closed_after(b""), closed_after(b"\x16\x03\x01\x02\x00\x01"))
    await _served_promptly(mg)
    for elapsed in await timings:
        assert SLOW_BOUND * 0.9 <= elapsed < SLOW_BOUND + 1.0, elapsed


async def _slow_body(
    mg: RunningMailgate, path: str, content_type: str, body: bytes, headers: str = ""
) -> tuple[float, bytes] | None:
    """POST `body` declaring its full length, but send it a few bytes at a time."""
    reader, writer = await _open_raw(mg)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost:{mg.port}\r\nOrigin: {mg.url}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
    ).encode()
    started = time.monotonic()
    pieces = [head + body[:50]] + [body[i : i + 5] for i in range(50, len(body), 5)]
    try:
        return await _drip(reader, writer, pieces, started)
    finally:
        writer.close()


def _status_and_error(answer: bytes) -> tuple[int, str | None]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)["error"]["code"]
    except ValueError:
        return status, None


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_slow_bodies_are_cut_off_with_408_while_others_are_served(
    make_mailgate: Any, user: tuple[str, str]
) -> None:
    mg: RunningMailgate = make_mailgate(server={"request_body_timeout_s": SLOW_BOUND})
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        login = json.dumps({"email": user[0], "password": user[1]}).encode()
        login += b" " * (400 - len(login))
        boundary = "sl0w"
        upload = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + b"z" * 2000
            + f"\r\n--{boundary}--\r\n".encode()
        )
        auth = f"Cookie: {COOKIE_NAME}={api.cookie}\r\nX-CSRF-Token: {api.csrf}\r\n"
        started = time.monotonic()
        slow = asyncio.gather(
            _slow_body(mg, "/api/session", "application/json", login),
            _slow_body(
                mg, "/api/uploads", f"multipart/form-data; boundary={boundary}", upload, auth
            ),
        )
        await _served_promptly(mg)
        results = await slow
        for result in results:
            assert result is not None, "a slow body was never cut off"
            elapsed, answer = result
            assert SLOW_BOUND * 0.9 <= elapsed < SLOW_BOUND + 1.0, elapsed
            assert _status_and_error(answer) == (408, "request_timeout"), answer[:300]
        assert time.monotonic() - started < SLOW_BOUND + 3  # the connections were closed
        # The cut-off upload left nothing behind; the session is untouched.
        assert _vault_files(mg) == []
        assert (await api.get("/api/uploads")).json()["uploads"] == []
        assert (await _upload(api, os.urandom(200_000))).status == 201


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_body_deadline_spares_a_slow_handler(
    make_mailgate: Any, upstream: Upstream, user: tuple[str, str]
) -> None:
    """The body bound is about the client: a complete body whose handler waits on a slow
    mail server is answered normally."""
    relay = StallRelay(upstream.settings["imap"]["port"])
    try:
        mg: RunningMailgate = make_mailgate(
            server={"request_body_timeout_s": 0.3},
            imap={"port": relay.port, "timeout_s": 5},
        )
        relay.stall(new=True)
        asyncio.get_running_loop().call_later(1.0, relay.thaw)
        async with ApiClient(mg.url, mg.client_ssl()) as api:
            started = time.monotonic()
            resp = await api.login(*user)
            assert resp.status == 201, resp
            assert time.monotonic() - started >= 0.9  # it did wait on the stalled server
    finally:
        relay.close()


# -- 5. oversized and malformed input: a clear 4xx, never a 500 ----------------------------------
# Covered elsewhere, not repeated here: invalid JSON, duplicate keys, wrong types and a
# 2 MiB body on login (test_session), a 16 KiB header (test_http_security), upload limits
# (test_uploads).


async def _chunked(data: bytes) -> Any:
    for i in range(0, len(data), 65536):
        yield data[i : i + 65536]


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_bad_json_bodies_get_a_clear_4xx(logged_in: ApiClient) -> None:
    as_json = {"Content-Type": "application/json"}
    cases: list[tuple[bytes | Any, int]] = [
        (b"[" * 100_000, 400),  # nesting deeper than any parser's recursion
        (b'{"a":' * 100_000, 400),
        (b'{"to": ["a@b.test"], "subject": NaN}', 400),
        (b'{"to": ["a@b.test"], "to": ["c@d.test"]}', 400),
        (b'{"to": 5, "subject": ["x"]}', 400),
        (b'{"to": ["a@b.test"], "subject": "\xff\xfe"}', 400),  # not UTF-8
        (b'"just a string"', 400),
        (b"", 400),
        # No Content-Length: the limit is enforced while reading.
        (_chunked(b'{"text": "' + b"x" * (2 * 1024 * 1024) + b'"}'), 413),
    ]
    for body, status in cases:
        resp = await logged_in.post("/api/send", data=body, headers=as_json)
        assert resp.status == status, (body if isinstance(body, bytes) else "chunked", resp)
        assert resp.error_code in ("bad_request", "payload_too_large")
    assert (await logged_in.get("/api/session")).status == 200  # the session is unharmed


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_bad_multipart_uploads_get_400_and_store_nothing(
    make_mailgate: Any, user: tuple[str, str]
) -> None:
    mg: RunningMailgate = make_mailgate()
    part = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    with_boundary = "multipart/form-data; boundary=B"
    cases = [
        ("no boundary", "multipart/form-data", part + b"data\r\n--B--\r\n"),
        ("empty boundary", "multipart/form-data; boundary=", part + b"data\r\n--B--\r\n"),
        ("truncated in the data", with_boundary, part + b"data" * 50_000),
        ("truncated after a boundary", with_boundary, part + b"data\r\n--B"),
        ("two file parts", with_boundary, part + b"one\r\n" + part + b"two\r\n--B--\r\n"),
        (
            "no file part",
            with_boundary,
            b'--B\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--B--\r\n',
        ),
        ("no part at all", with_boundary, b"--B--\r\n"),
        ("no multipart at all", with_boundary, b"hello"),
    ]
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        for name, content_type, body in cases:
            resp = await api.post("/api/uploads", data=body, headers={"Content-Type": content_type})
            assert resp.status == 400 and resp.error_code == "bad_request", (name, resp)
            assert _vault_files(mg) == [], name
        assert (await api.get("/api/uploads")).json()["uploads"] == []
        # A well-formed upload, for contrast, is taken.
        ok = await api.post(
            "/api/uploads",
            data=part + b"data\r\n--B--\r\n",
            headers={"Content-Type": with_boundary},
        )
        assert ok.status == 201 and ok.json()["size"] == 4, ok


async def _raw_answer(mg: RunningMailgate, request: bytes) -> tuple[int, bytes]:
    status, _, body = await _raw_exchange(mg, request)
    return status, body


async def _raw_exchange(mg: RunningMailgate, request: bytes) -> tuple[int, bytes, bytes]:
    """(status, header block, body) of the one answer to raw request bytes."""
    reader, writer = await _open_raw(mg)
    try:
        writer.write(request)
        await writer.drain()
        answer = await _read_until_closed(reader, 5)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1."), answer[:100]
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_malformed_http_gets_a_clear_4xx(
    mailgate: RunningMailgate, logged_in: ApiClient
) -> None:
    # Signed in, so that what is well-formed enough reaches the handlers' own checks.
    host = (
        f"Host: localhost:{mailgate.port}\r\nConnection: close\r\n"
        f"Cookie: {COOKIE_NAME}={logged_in.cookie}\r\n"
    ).encode()
    post = b"POST /api/session HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
    cases: list[tuple[str, bytes, set[int]]] = [
        (
            "too many headers",
            b"GET /healthz HTTP/1.1\r\n"
            + host
            + b"".join(b"X-H%d: v\r\n" % i for i in range(200))
            + b"\r\n",
            {400, 431},
        ),
        (
            "overlong URL",
            b"GET /api/" + b"a" * 10_000 + b" HTTP/1.1\r\n" + host + b"\r\n",
            {400, 414},
        ),
        (
            "overlong query",
            b"GET /api/session?" + b"a=b&" * 3000 + b" HTTP/1.1\r\n" + host + b"\r\n",
            {400, 414},
        ),
        (
            "bad percent-encoding",
            b"GET /api/messages/%zz%/parts/1 HTTP/1.1\r\n" + host + b"\r\n",
            {400, 404},
        ),
        (
            "cut percent-encoding",
            b"GET /api/mailboxes/%E0%A4%/messages HTTP/1.1\r\n" + host + b"\r\n",
            {400, 404},
        ),
        (
            "non-UTF-8 percent-encoding",
            b"GET /api/mailboxes/%FF%FE/messages HTTP/1.1\r\n" + host + b"\r\n",
            {400, 404},
        ),
        ("encoded NUL", b"GET /api/messages/a%00b HTTP/1.1\r\n" + host + b"\r\n", {400, 404}),
        ("raw NUL", b"GET /api/mailboxes/a\x00b/messages HTTP/1.1\r\n" + host + b"\r\n", {400}),
        (
            "Content-Length with Transfer-Encoding",
            post + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            {400},
        ),
        (
            "duplicate Content-Length",
            post + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            {400},
        ),
        ("listed Content-Length", post + b"Content-Length: 2, 2\r\n\r\n{}", {400}),
        ("negative Content-Length", post + b"Content-Length: -1\r\n\r\n{}", {400}),
        (
            "bad chunk size",
            post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            {400},
        ),
    ]
    for name, request, expected in cases:
        status, head, body = await _raw_exchange(mailgate, request)
        assert status in expected, (name, status, body[:200])
        assert b"Traceback" not in body and b"aiohttp" not in body.lower(), name
        # Even what aiohttp refuses before routing is our JSON error with every security
        # header, and never quotes the request back (SEC-22 to SEC-28 on all answers).
        assert b"application/json" in head.lower(), (name, head)
        assert json.loads(body)["error"]["code"], name
        lowered = head.lower()
        for header in (b"strict-transport-security", b"content-security-policy",
                       b"x-content-type-options", b"cross-origin-resource-policy"):  # fmt: skip
            assert lowered.count(header + b":") == 1, (name, header)
        for echoed in (b"X-H199", b"aaaa", b"zz", b"a=b"):
            assert echoed not in body, (name, echoed)
    assert (await logged_in.get("/api/session")).status == 200  # and all is well
