"""`mailgate demo` started as a new user would, then a login with what it printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from mailgate.testing.client import ApiClient
from mailgate.testing.servers import free_port


async def test_demo_starts_and_its_printed_login_works(tmp_path):
    port = free_port()
    env = {**os.environ, "MAILGATE_SERVER_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailgate", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 60
        login = url = ca = None
        while time.monotonic() < deadline and not (login and url and ca):
            line = proc.stdout.readline()
            if not line:
                break
            output.append(line)
            if m := re.search(r"Open:\s+(https://\S+)", line):
                url = m.group(1)
            if m := re.search(r"Log in:\s+(\S+) / (\S+)", line):
                login = (m.group(1), m.group(2))
            if m := re.search(r"CA file:\s+(\S+)", line):
                ca = m.group(1)
        assert url == f"https://localhost:{port}", "".join(output)
        assert login and ca
        import ssl

        async with ApiClient(url, ssl.create_default_context(cafile=ca)) as api:
            resp = await api.login(*login)
            assert resp.status == 201
            boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
            inbox = next(b for b in boxes if b["role"] == "inbox")
            assert inbox["total"] >= 10  # seeded with real-looking mail
            page = await api.get(f"/api/mailboxes/{inbox['id']}/messages?limit=5")
            assert len(page.json()["messages"]) == 5
            assert (await api.get("/")).status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
