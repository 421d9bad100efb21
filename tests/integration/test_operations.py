"""Operations: /metrics (aggregate only, counters add up), `mailgate check`, and a real
`mailgate serve` process that drains and wipes on SIGTERM."""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from mailgate.check import healthcheck, run_check
from mailgate.sandbox.ca import LocalCA
from mailgate.session.tokens import COOKIE_NAME
from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate, RunningSandbox, free_port
from tests.integration.fake_imap import FakeImap
from tests.servers.process import alive, descendants
from tests.servers.redis import RedisServer

PYMAP = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)


# -- helpers -----------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _message(subject: str, sender: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(f"Body of {subject}\n")
    return bytes(msg)


def _form(filename: str, data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="text/plain")
    return form


async def _get_text(url: str, ssl_ctx: ssl.SSLContext) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, ssl=ssl_ctx) as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


# -- /metrics ------------------------------------------------------------------------------


@PYMAP
async def test_sec_metrics_hold_no_personal_data_and_counters_add_up(
    make_mailgate: Any, upstream: Any
) -> None:
    mg: RunningMailgate = make_mailgate(metrics={"enabled": True})
    email, password = upstream.new_user()
    other_email, other_password = upstream.new_user()
    marker = secrets.token_hex(4)
    subject = f"Quarterly canary {marker}"
    folder = f"Projekt-{marker}"
    filename = f"canary-{marker}.txt"
    upstream.deliver(email, _message(subject, "alice@example.test", email))
    upstream.deliver(email, _message(f"Filed {marker}", "bob@example.test", email), folder)

    async with ApiClient(mg.url, mg.client_ssl()) as a, ApiClient(mg.url, mg.client_ssl()) as b:
        assert (await a.login(email, "wrong " + password)).status == 401
        assert (await a.login(email, password)).status == 201
        boxes = (await a.get("/api/mailboxes")).json()["mailboxes"]
        names = {box["name"] for box in boxes} | {box["path"] for box in boxes}
        assert folder in names
        opened = 0
        for box in boxes:
            listing = await a.get(f"/api/mailboxes/{box['id']}/messages")
            assert listing.status == 200
            for summary in listing.json()["messages"]:
                assert (await a.get(f"/api/messages/{summary['id']}")).status == 200
                opened += 1
        up = await a.request("POST", "/api/uploads", data=_form(filename, b"secret bytes"))
        assert up.status == 201, up
        assert (await a.login(email, password)).status == 201  # wipes the first: relogin
        assert (await a.logout()).status == 204
        assert (await b.login(other_email, other_password)).status == 201  # stays live

        status, content_type, text = await _get_text(mg.url + "/metrics", mg.client_ssl())
    assert status == 200
    assert content_type.startswith("text/plain")

    # Nothing that names a person, an address, a mailbox, a message or a client.
    canaries = {email, password, email.split("@")[0], other_email, other_password, subject}
    canaries |= {folder, marker, filename, "alice@example.test", "bob@example.test"}
    canaries |= {n for n in names if n != "INBOX"} | {"127.0.0.1", "localhost", "::1"}
    leaked = sorted(c for c in canaries if c in text)
    assert not leaked, f"/metrics leaks {leaked}"
    assert "INBOX" not in text and "@" not in text

    s = _samples(text)
    logins = s[("mailgate_logins_total", ())]
    failures = s[("mailgate_login_failures_total", ())]
    wipes = {
        dict(labels)["reason"]: v
        for (name, labels), v in s.items()
        if name == "mailgate_session_wipes_total"
    }
    live = s[("mailgate_sessions_live", ())]
    assert (logins, failures) == (3, 1)
    assert wipes["logout"] == 1 and wipes["relogin"] == 1
    assert wipes["idle"] == wipes["absolute"] == wipes["shutdown"] == 0
    assert live == 1 == logins - sum(wipes.values())
    # Request counts by route template and status class, and their latency histogram.
    login_key = ("mailgate_http_requests_total", "POST", "/api/session")
    by_class = {
        dict(labels)["status_class"]: v
        for (name, labels), v in s.items()
        if (name, dict(labels).get("method"), dict(labels).get("route")) == login_key
    }
    assert by_class == {"2xx": 3, "4xx": 1}
    assert (
        s[
            (
                "mailgate_http_requests_total",
                (("method", "POST"), ("route", "/api/uploads"), ("status_class", "2xx")),
            )
        ]
        == 1
    )
    count = s[
        (
            "mailgate_http_request_duration_seconds_count",
            (("method", "POST"), ("route", "/api/session")),
        )
    ]
    assert count == 4
    routes = {dict(labels).get("route") for (_, labels) in s if dict(labels).get("route")}
    assert all(r.startswith("/") or r == "unmatched" for r in routes)
    assert not any(len(r) > 20 and "{" not in r and r.count("/") > 3 for r in routes)
    # The reading workers: one rendering per message opened, none past its deadline, and
    # nothing left waiting; the summed wait is a duration (one request at a time here).
    assert opened == 2
    assert s[("mailgate_reading_tasks_total", ())] == opened
    assert s[("mailgate_reading_timeouts_total", ())] == 0
    assert s[("mailgate_reading_failures_total", ())] == 0
    assert s[("mailgate_reading_withdrawn_total", ())] == 0
    assert s[("mailgate_reading_queue_length", ())] == 0
    assert 0 <= s[("mailgate_reading_queue_wait_seconds_total", ())] < 1.0


@PYMAP
async def test_metrics_count_upstream_errors_by_kind(make_mailgate: Any, upstream: Any) -> None:
    dead = free_port()
    mg: RunningMailgate = make_mailgate(
        metrics={"enabled": True}, imap={"port": dead, "timeout_s": 2.0}
    )
    email, password = upstream.new_user()
    async with ApiClient(mg.url, mg.client_ssl()) as api:
        for _ in range(2):
            resp = await api.login(email, password)
            assert resp.status == 502 and resp.error_code == "upstream_tls_failed"
        status, _, text = await _get_text(mg.url + "/metrics", mg.client_ssl())
    assert status == 200
    s = _samples(text)
    assert s[("mailgate_upstream_errors_total", (("kind", "tls_failed"),))] == 2
    assert s[("mailgate_login_upstream_errors_total", ())] == 2
    assert s[("mailgate_logins_total", ())] == 0
    assert email not in text and password not in text


@PYMAP
@pytest.mark.redis
async def test_metrics_report_the_store_going_away_and_the_event_loop_lag(
    make_mailgate: Any, upstream: Any, tmp_path: Any
) -> None:
    """What config/alerts.yaml watches: mailgate_store_up and the 503s while the store is
    gone, and the event loop's lag, sampled on its own while the server runs."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    try:
        mg: RunningMailgate = make_mailgate(
            metrics={"enabled": True},
            store={"backend": "redis", "redis_url": server.url},
            data={"dir": str(tmp_path)},
        )
        email, password = upstream.new_user()
        async with ApiClient(mg.url, mg.client_ssl()) as api:
            assert (await api.login(email, password)).status == 201
            _, _, text = await _get_text(mg.url + "/metrics", mg.client_ssl())
            s = _samples(text)
            assert s[("mailgate_store_up", ())] == 1
            assert s[("mailgate_store_unavailable_total", ())] == 0
            server.stop()
            for _ in range(2):
                resp = await api.get("/api/session")
                assert resp.status == 503 and resp.error_code == "store_unavailable", resp
            _, _, text = await _get_text(mg.url + "/metrics", mg.client_ssl())
            s = _samples(text)
            assert s[("mailgate_store_up", ())] == 0
            assert s[("mailgate_store_unavailable_total", ())] == 2
            server.start()
            _, _, text = await _get_text(mg.url + "/metrics", mg.client_ssl())
            s = _samples(text)
            assert s[("mailgate_store_up", ())] == 1
            # The lag sampler has been running since startup (every 0.5 s).
            deadline = asyncio.get_running_loop().time() + 5
            while s[("mailgate_event_loop_lag_seconds_count", ())] < 2:
                assert asyncio.get_running_loop().time() < deadline, "no lag samples"
                await asyncio.sleep(0.5)
                _, _, text = await _get_text(mg.url + "/metrics", mg.client_ssl())
                s = _samples(text)
            lag_sum = s[("mailgate_event_loop_lag_seconds_sum", ())]
            assert 0 <= lag_sum < s[("mailgate_event_loop_lag_seconds_count", ())] * 5.0
    finally:
        server.cleanup()


@PYMAP
async def test_metrics_absent_unless_enabled(mailgate: RunningMailgate) -> None:
    status, _, _ = await _get_text(mailgate.url + "/metrics", mailgate.client_ssl())
    assert status == 404


@PYMAP
async def test_metrics_on_a_separate_listener_only(make_mailgate: Any) -> None:
    port = free_port()
    mg: RunningMailgate = make_mailgate(metrics={"enabled": True, "port": port})
    main_status, _, _ = await _get_text(mg.url + "/metrics", mg.client_ssl())
    assert main_status == 404
    # Requests on the main listener are still counted.
    status, _, text = await _get_text(f"https://127.0.0.1:{port}/metrics", mg.client_ssl())
    assert status == 200
    s = _samples(text)
    assert (
        s[
            (
                "mailgate_http_requests_total",
                (("method", "GET"), ("route", "unmatched"), ("status_class", "4xx")),
            )
        ]
        == 1
    )


# -- mailgate check -----------------------------------------------------------------------


@pytest.fixture
def certs(tmp_path: Path) -> Iterator[tuple[LocalCA, str, str]]:
    ca = LocalCA()
    cert, key = ca.issue("localhost", "127.0.0.1")
    yield ca, cert, key
    ca.cleanup()


def _write_config(path: Path, settings: dict[str, dict[str, Any]], **extra: dict[str, Any]) -> str:
    sections = {k: dict(v) for k, v in settings.items()}
    for name, values in extra.items():
        sections.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


async def _check(path: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_check(path, out=out)
    return code, out.getvalue()


async def test_check_passes_for_a_good_configuration(
    sandbox: RunningSandbox, certs: tuple[LocalCA, str, str], tmp_path: Path
) -> None:
    _, cert, key = certs
    path = _write_config(
        tmp_path / "good.toml", sandbox.settings(), tls={"cert_file": cert, "key_file": key}
    )
    code, report = await _check(path)
    assert code == 0, report
    lines = report.splitlines()
    for name in ("configuration", "tls", "imap", "smtp", "store"):
        assert any(line.startswith(f"✓ {name}:") for line in lines), report
    assert "✗" not in report and "\033[" not in report  # no colour when not a terminal
    # The CLI gives the same verdict and exit code.
    cli = subprocess.run(
        [sys.executable, "-m", "mailgate", "check", "--config", path],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAILGATE_")},
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "all checks passed" in cli.stdout


async def test_check_fails_on_a_wrong_certificate_path(
    sandbox: RunningSandbox, certs: tuple[LocalCA, str, str], tmp_path: Path
) -> None:
    _, _, key = certs
    missing = str(tmp_path / "nope" / "cert.pem")
    path = _write_config(
        tmp_path / "c.toml", sandbox.settings(), tls={"cert_file": missing, "key_file": key}
    )
    code, report = await _check(path)
    assert code == 1
    assert f"✗ tls.cert_file: {missing}: file not found" in report.splitlines()


async def test_check_fails_when_key_does_not_match(
    sandbox: RunningSandbox, certs: tuple[LocalCA, str, str], tmp_path: Path
) -> None:
    ca, cert, _ = certs
    _, other_key = ca.issue("localhost")
    path = _write_config(
        tmp_path / "c.toml", sandbox.settings(), tls={"cert_file": cert, "key_file": other_key}
    )
    code, report = await _check(path)
    assert code == 1
    assert "the key does not match the certificate" in report
    assert any(line.startswith("✗ tls:") for line in report.splitlines())


async def test_check_fails_on_an_expired_certificate(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    import datetime as dt

    ca = trustme.CA()
    leaf = ca.issue_cert(
        "localhost",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    cert, key = tmp_path / "old.pem", tmp_path / "old.key"
    cert.write_bytes(leaf.cert_chain_pems[0].bytes())
    key.write_bytes(leaf.private_key_pem.bytes())
    path = _write_config(
        tmp_path / "c.toml",
        sandbox.settings(),
        tls={"cert_file": str(cert), "key_file": str(key)},
    )
    code, report = await _check(path)
    assert code == 1
    assert "✗ tls.cert_file: expired on 2021-01-01" in report.splitlines()


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_check_fails_on_an_upstream_without_tls(
    sandbox: RunningSandbox, certs: tuple[LocalCA, str, str], tmp_path: Path, security: str
) -> None:
    _, cert, key = certs
    fake = FakeImap("plain", tmp_path)
    try:
        path = _write_config(
            tmp_path / "c.toml",
            sandbox.settings(),
            tls={"cert_file": cert, "key_file": key},
            imap={"host": "localhost", "port": fake.port, "security": security},
        )
        code, report = await _check(path)
    finally:
        fake.close()
    assert code == 1
    imap_lines = [line for line in report.splitlines() if line.startswith("✗ imap:")]
    assert len(imap_lines) == 1, report
    assert f"localhost:{fake.port} ({security}): no verified TLS" in imap_lines[0]
    assert b"LOGIN" not in bytes(fake.received).upper().replace(b"LOGOUT", b"")
    assert any(line.startswith("✓ smtp:") for line in report.splitlines())


async def test_check_fails_on_unreachable_upstreams(
    sandbox: RunningSandbox, certs: tuple[LocalCA, str, str], tmp_path: Path
) -> None:
    _, cert, key = certs
    imap_port, smtp_port = free_port(), free_port()
    path = _write_config(
        tmp_path / "c.toml",
        sandbox.settings(),
        tls={"cert_file": cert, "key_file": key},
        imap={"host": "localhost", "port": imap_port},
        smtp={"host": "localhost", "port": smtp_port},
    )
    started = time.monotonic()
    code, report = await _check(path)
    assert time.monotonic() - started < 30
    assert code == 1
    lines = report.splitlines()
    assert any(
        line.startswith(f"✗ imap: localhost:{imap_port}") and "cannot connect" in line
        for line in lines
    ), report
    assert any(
        line.startswith(f"✗ smtp: localhost:{smtp_port}") and "cannot connect" in line
        for line in lines
    ), report
    assert lines[-1] == "2 problem(s)"


async def test_check_reports_an_invalid_configuration(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[imap]\nhost = "127.0.0.1"\n')
    code, report = await _check(str(path))
    assert code == 1
    assert report.startswith("✗ configuration: ")


async def test_a_zero_timeout_is_refused_at_start(
    sandbox: RunningSandbox, certs: tuple[LocalCA, str, str], tmp_path: Path
) -> None:
    """A zero timeout would fail every connection (TLS handshakes included) or request at
    once; it is a configuration error, not a server that starts and refuses everyone."""
    _, cert, key = certs
    for section, name in (
        ("server", "request_header_timeout_s"),
        ("imap", "timeout_s"),
        ("push", "poll_interval_s"),
        ("proxy", "per_session_concurrency"),
    ):
        path = _write_config(
            tmp_path / f"{name}.toml",
            sandbox.settings(),
            tls={"cert_file": cert, "key_file": key},
            **{section: {name: 0}},
        )
        code, report = await _check(path)
        assert code == 1
        assert report.splitlines()[0] == f"✗ configuration: {section}.{name}: must be positive"


# -- a real `mailgate serve`: SIGTERM drains and wipes ---------------------------------------


def _mailgate_command() -> list[str]:
    return [sys.executable, "-m", "mailgate"]


def _serve_env(settings: dict[str, dict[str, Any]], **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGATE_")}
    for section, items in settings.items():
        for key, value in items.items():
            env[f"MAILGATE_{section}_{key}".upper()] = str(value)
    env.update(values)
    return env


def _wait_healthy(env: dict[str, str], proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert proc.poll() is None, "mailgate serve exited early"
        if healthcheck(environ=env, timeout=1.0) == 0:
            return
        time.sleep(0.1)
    raise AssertionError("mailgate serve did not become healthy")


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def _start_upload(
    port: int, ssl_ctx: ssl.SSLContext, cookie: str, csrf: str, *, declared: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """An upload in flight: the headers and the first half of the body. Returns the rest
    (which completes it), or with `declared` a Content-Length that is never reached."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ssl_ctx, server_hostname="localhost"
    )
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"x" * 200_000
        + f"\r\n--{boundary}--\r\n".encode()
    )
    half = len(body) // 2
    writer.write(
        (
            f"POST /api/uploads HTTP/1.1\r\nHost: localhost:{port}\r\n"
            f"Origin: https://localhost:{port}\r\nCookie: {COOKIE_NAME}={cookie}\r\n"
            f"X-CSRF-Token: {csrf}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {declared or len(body)}\r\n\r\n"
        ).encode()
        + body[:half]
    )
    await writer.drain()
    return reader, writer, body[half:]


async def test_sigterm_drains_and_wipes_within_the_bound(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    email = f"term-{secrets.token_hex(4)}@example.test"
    password = f"pw-{secrets.token_urlsafe(10)}"
    sandbox.add_user(email, password)
    ca = LocalCA()
    cert, key = ca.issue("localhost", "127.0.0.1")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port, bound = free_port(), 3.0
    env = _serve_env(
        sandbox.settings(),
        TMPDIR=str(tmpdir),
        MAILGATE_SERVER_HOST="127.0.0.1",
        MAILGATE_SERVER_PORT=str(port),
        MAILGATE_SERVER_SHUTDOWN_TIMEOUT_S=str(bound),
        MAILGATE_TLS_CERT_FILE=cert,
        MAILGATE_TLS_KEY_FILE=key,
        MAILGATE_DATA_DIR=str(tmp_path / "data"),
    )
    proc = subprocess.Popen(
        [*_mailgate_command(), "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    writers: list[asyncio.StreamWriter] = []
    try:
        _wait_healthy(env, proc, time.monotonic() + 30)
        # The reading workers (a fork server and two workers under it) run before the
        # first open, so that open does not wait for them to start.
        workers = descendants(proc.pid)
        assert len(workers) >= 3, workers
        client_ssl = ssl.create_default_context(cafile=ca.ca_pem_path)
        async with ApiClient(f"https://localhost:{port}", client_ssl) as api:
            assert (await api.login(email, password)).status == 201
            assert (await api.get("/api/mailboxes")).status == 200
            up = await api.request("POST", "/api/uploads", data=_form("held.txt", b"y" * 4096))
            assert up.status == 201, up
            assert api.cookie and api.csrf
            # An upload in flight that never completes: it holds the drain until the bound.
            # (aiohttp stops reading request bodies once shutdown begins, so an upload
            # still streaming is cut at the bound; requests with their body in finish.)
            _, stuck, _ = await _start_upload(
                port, client_ssl, api.cookie, api.csrf, declared=5_000_000
            )
            writers.append(stuck)
            await asyncio.sleep(0.3)
        held = _files_under(tmpdir)
        assert any(name.endswith(".data") for name in held), held  # the vault is in TMPDIR

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(proc.wait, bound + 10)
        elapsed = time.monotonic() - started
    finally:
        for w in writers:
            w.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ca.cleanup()
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert returncode == 0, output
    # The workers went with it (dead: a zombie until whoever inherits it reaps it).
    give_up = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < give_up:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "reading workers outlived serve"
    # The stuck upload held the drain for the whole bound, and no longer.
    assert bound - 0.5 <= elapsed < bound + 5, f"took {elapsed:.1f}s to stop"
    assert _files_under(tmpdir) == [], "vault files survived shutdown"
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "server_stopping" in names and names[-1] == "server_stopped"
    assert {"event": "session_wiped", "reason": "shutdown"}.items() <= next(
        e for e in events if e["event"] == "session_wiped"
    ).items()
    assert email not in output and password not in output
