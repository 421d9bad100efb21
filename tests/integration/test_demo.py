"""`mailgate demo` started as a new user would, then a login with what it printed.

The banner (URL, login, CA path) is the last thing the demo prints: its logs go to a
file unless `--log-file -` asks for the terminal. `--idle-timeout` and `--image-proxy`
are honoured, and the seeded newsletter's remote images load through the privacy proxy
from the sandbox's own image host, with no internet.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import ssl
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from typing import Any

from mailgate.testing.client import ApiClient
from mailgate.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
_IMG = re.compile(r'<img[^>]*\bsrc="([^"]*)"')
BANNER_END = "Stop with Ctrl+C"


class Demo:
    """A `mailgate demo` subprocess and what it printed up to the end of its banner."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mailgate", "demo", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            text=True,
        )
        self.lines: list[str] = []

    def read_banner(self, timeout: float = 90) -> dict[str, str]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if BANNER_END in line:
                break
        text = "".join(self.lines)
        assert BANNER_END in text, text
        found: dict[str, str] = {}
        for key, pattern in (
            ("url", r"Open:\s+(https://\S+)"),
            ("login", r"Log in:\s+(\S+ / \S+)"),
            ("ca", r"CA file:\s+(\S+)"),
            ("idle", r"Idle:\s+(.*)"),
            ("images", r"Images:\s+(.*)"),
            ("logs", r"Logs:\s+(.*)"),
        ):
            m = re.search(pattern, text)
            assert m, (key, text)
            found[key] = m.group(1).strip()
        return found

    def more_output(self, wait: float) -> str:
        """What the demo printed after its banner within `wait` seconds."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], wait)
        return os.read(self.proc.stdout.fileno(), 65536).decode() if ready else ""

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


async def _inbox_listing(api: ApiClient) -> list[dict[str, Any]]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    assert inbox["total"] >= 10  # seeded with real-looking mail
    page = await api.get(f"/api/mailboxes/{inbox['id']}/messages?limit=50")
    return page.json()["messages"]


async def _newsletter(api: ApiClient) -> dict[str, Any]:
    listing = await _inbox_listing(api)
    summary = next(m for m in listing if m["subject"].startswith("Spring sale"))
    return (await api.get(f"/api/messages/{summary['id']}")).json()


async def test_demo_prints_its_banner_last_and_its_login_works(tmp_path):
    demo = Demo("--idle-timeout", "7")
    try:
        banner = demo.read_banner()
        # Nothing but the banner on the terminal: no log line scrolls it away.
        assert not any(line.lstrip().startswith("{") for line in demo.lines), demo.lines
        assert banner["url"] == f"https://localhost:{demo.port}"
        assert "7 s" in banner["idle"]
        assert "privacy proxy" in banner["images"]
        log_file = Path(banner["logs"])
        email, password = banner["login"].split(" / ")
        async with ApiClient(banner["url"], ssl.create_default_context(cafile=banner["ca"])) as api:
            assert (await api.login(email, password)).status == 201
            session = (await api.get("/api/session")).json()
            assert session["idle_timeout_s"] == 7 and session["idle_expires_in_s"] <= 7
            message = await _newsletter(api)
            assert message["remote_content_blocked"] >= 1
            # "Load remote images": the document's images become signed proxy URLs, and
            # the proxy fetches them from the sandbox's image host.
            html_url = message["html_url"].split("?")[0]
            blocked = (await api.get(html_url)).body.decode()
            assert "/shop/banner.png" not in blocked
            document = (await api.get(html_url + "?remote=allow")).body.decode()
            urls = [unescape(u) for u in _IMG.findall(document)]
            proxied = [u for u in urls if u.startswith("/api/proxy/image?")]
            assert proxied, document
            image = await api.get(proxied[0], cookie=False)
            assert image.status == 200, image
            assert image.headers["Content-Type"] == "image/png"
            assert image.body.startswith(b"\x89PNG\r\n\x1a\n")
            assert (await api.get("/")).status == 200
        # The requests went to the log file, not to the terminal.
        assert demo.more_output(1.0) == ""
        events = [json.loads(line) for line in log_file.read_text().splitlines()]
        assert any(e["event"] == "server_started" for e in events)
        assert any(e["event"] == "request" and e["route"] == "/api/session" for e in events)
        assert any(e["event"] == "proxy_served" for e in events)
        assert password not in log_file.read_text() and email not in log_file.read_text()
    finally:
        code = demo.stop()
    assert code == 0


async def test_demo_logs_to_the_terminal_when_asked_and_the_proxy_can_be_off():
    demo = Demo("--log-file", "-", "--no-image-proxy")
    try:
        banner = demo.read_banner()
        before = [line for line in demo.lines if line.lstrip().startswith("{")]
        # Start-up logs come first, the banner after them.
        assert any(json.loads(line)["event"] == "server_started" for line in before)
        last_log = max(i for i, line in enumerate(demo.lines) if line.lstrip().startswith("{"))
        assert last_log < next(i for i, line in enumerate(demo.lines) if "Open:" in line)
        assert banner["logs"] == "this terminal"
        assert "blocked" in banner["images"]
        email, password = banner["login"].split(" / ")
        async with ApiClient(banner["url"], ssl.create_default_context(cafile=banner["ca"])) as api:
            assert (await api.login(email, password)).status == 201
            message = await _newsletter(api)
            document = (await api.get(message["html_url"].split("?")[0] + "?remote=allow")).body
            assert b"/api/proxy/image?" not in document
            assert b"/shop/banner.png" not in document
        # Asked for the terminal: the request lines arrive there.
        assert '"event":"request"' in demo.more_output(5.0)
    finally:
        code = demo.stop()
    assert code == 0


def test_demo_without_the_demo_extra_prints_a_one_line_hint(tmp_path: Path):
    # A `pymap` that is not installed: importing it fails as a missing module does.
    fake = tmp_path / "pymap"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pymap'\", name='pymap')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "mailgate", "demo", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'mailgate[demo]'" in lines[0], result.stderr
