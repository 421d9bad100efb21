"""The container image, built and run (issue 23).

podman builds the Dockerfile on a base image made here with mmdebstrap from Debian's
packages (no registry is reachable; the Dockerfile's BASE_IMAGE default stays the official
Python image) and runs it read-only, as its non-root user, with its HEALTHCHECK, on the
host's network and bound to 127.0.0.1, against the test Dovecot (IMAP) and the sandbox's
SMTP server: a login, a read and a send go through the container. The test prints the image
size, the build time and the container's idle RSS (tests/servers/container.py says how
podman is set up on these machines)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailgate.sandbox.ca import LocalCA
from mailgate.testing.client import ApiClient
from mailgate.testing.logcheck import CANARIES, find_leaks
from tests.servers.container import IMAGE, Podman
from tests.servers.ports import free_port

pytestmark = [pytest.mark.dovecot, pytest.mark.parametrize("upstream", ["dovecot"], indirect=True)]

MAILGATE_UID = 10001  # the Dockerfile's USER


@pytest.fixture(scope="module")
def podman() -> Iterator[Podman]:
    if not Podman.available():
        if os.environ.get("CI"):
            pytest.fail("podman is missing on CI: .ci/run installs podman, runc and mmdebstrap")
        pytest.skip("podman is not installed (apt-get install podman runc mmdebstrap)")
    engine = Podman()
    yield engine
    engine.cleanup()


@pytest.fixture(scope="module")
def image(podman: Podman) -> Iterator[str]:
    base, base_seconds = podman.base_image()
    build_seconds = podman.build(IMAGE, base)
    report = [
        f"base image {base}: {podman.image_size(base) / 1e6:.0f} MB"
        + (f", made in {base_seconds:.0f} s" if base_seconds else ", cached"),
        f"image {IMAGE}: {podman.image_size(IMAGE) / 1e6:.0f} MB, built in {build_seconds:.0f} s",
    ]
    _REPORT.extend(report)
    yield IMAGE


_REPORT: list[str] = []


def _secret_file(directory: Path, name: str, source: str) -> str:
    """A copy of `source` the container's user can read (and nobody else, as root runs)."""
    target = directory / name
    shutil.copyfile(source, target)
    target.chmod(0o400)
    if os.geteuid() == 0:
        os.chown(target, MAILGATE_UID, MAILGATE_UID)
    else:
        target.chmod(0o444)
    return str(target)


class Container:
    def __init__(self, podman: Podman, image: str, settings: dict[str, dict[str, Any]]) -> None:
        self.podman = podman
        self.name = f"mailgate-test-{secrets.token_hex(4)}"
        self.ca = LocalCA()
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.dir = podman.root / self.name
        self.dir.mkdir(mode=0o711)
        cert, key = self.ca.issue("localhost", "127.0.0.1")
        self.argv = [
            "run",
            "--detach",
            f"--name={self.name}",
            "--network=host",  # and listening on 127.0.0.1 only (below)
            "--read-only",
            "--read-only-tmpfs=false",  # podman's extra tmpfs mounts off: only /tmp, as documented
            "--tmpfs=/tmp:rw,noexec,nosuid,nodev,size=64m",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            f"--volume={_secret_file(self.dir, 'cert', cert)}:/run/secrets/tls_cert:ro",
            f"--volume={_secret_file(self.dir, 'key', key)}:/run/secrets/tls_key:ro",
            f"--volume={_secret_file(self.dir, 'ca', settings['upstream']['ca_file'])}"
            ":/run/secrets/upstream_ca:ro",
            "--env=MAILGATE_SERVER_HOST=127.0.0.1",
            f"--env=MAILGATE_SERVER_PORT={self.port}",
            f"--env=MAILGATE_SERVER_PUBLIC_URL={self.url}",
            "--env=MAILGATE_UPSTREAM_CA_FILE=/run/secrets/upstream_ca",
            "--env=MAILGATE_UPSTREAM_ALLOW_ANY_PORT=true",
        ]
        for section in ("imap", "smtp"):
            for key_name, value in settings[section].items():
                self.argv.append(f"--env=MAILGATE_{section.upper()}_{key_name.upper()}={value}")
        self.argv.append(image)

    def start(self) -> None:
        self.podman(*self.argv)

    def wait_healthy(self, timeout: float = 60) -> float:
        """Run the image's HEALTHCHECK (podman schedules it with systemd timers, which
        these machines lack) until it passes; the seconds that took."""
        started = time.monotonic()
        while True:
            state = self.podman.inspect(self.name)["State"]
            if state["Status"] != "running":
                raise AssertionError(f"the container stopped:\n{self.logs()}")
            if self.podman("healthcheck", "run", self.name, check=False).returncode == 0:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"never healthy:\n{self.logs()}")
            time.sleep(0.5)

    def pid(self) -> int:
        return int(self.podman.inspect(self.name)["State"]["Pid"])

    def status_of_main_process(self) -> dict[str, str]:
        lines = Path(f"/proc/{self.pid()}/status").read_text().splitlines()
        return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}

    def rss_mib(self) -> float:
        return int(self.status_of_main_process()["VmRSS"].split()[0]) / 1024

    def logs(self) -> str:
        out = self.podman("logs", self.name, check=False)
        return out.stdout + out.stderr

    def remove(self) -> None:
        self.podman("rm", "--force", "--volumes", self.name, check=False)
        self.ca.cleanup()


@pytest.fixture
def container(podman: Podman, image: str, upstream: Any) -> Iterator[Container]:
    running = Container(podman, image, upstream.settings)
    try:
        running.start()
        yield running
    finally:
        running.remove()


def _message(to: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Container Sender <container-sender@example.net>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0000"
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def test_image_runs_read_only_as_non_root_healthy_and_serves_mail(
    podman: Podman,
    container: Container,
    upstream: Any,
    sandbox: Any,
    user: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    healthy_after = container.wait_healthy()
    state = podman.inspect(container.name)
    assert state["State"]["Health"]["Status"] == "healthy"
    # The image's HEALTHCHECK is the one that ran (docker format keeps it).
    assert "mailgate.check" in " ".join(state["Config"]["Healthcheck"]["Test"])
    # Read-only root, no capabilities, and the server runs as the image's user.
    assert state["HostConfig"]["ReadonlyRootfs"] is True
    assert state["Config"]["User"] == f"{MAILGATE_UID}:{MAILGATE_UID}"
    status = container.status_of_main_process()
    assert status["Uid"].split() == [str(MAILGATE_UID)] * 4
    assert status["CapEff"] == "0000000000000000"
    # Even root inside cannot write to the image's files: the file system is read-only.
    probe = podman("exec", "--user=0", container.name, "touch", "/opt/venv/probe", check=False)
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe
    # Only 127.0.0.1 is listened on (host networking): nothing on the wildcard address.
    listening = podman("exec", container.name, "cat", "/proc/net/tcp").stdout
    wildcard = f"00000000:{container.port:04X}"
    assert f"0100007F:{container.port:04X}" in listening and wildcard not in listening

    time.sleep(2)  # idle: started, health checked, no session yet
    idle_rss = container.rss_mib()

    email, password = user
    sandbox.add_user(email, password)  # the sandbox's SMTP server does the submission
    subject = f"Container read {secrets.token_hex(4)}"
    upstream.deliver(email, _message(email, subject, "read through the container\n"))
    out_subject = f"Container send {secrets.token_hex(4)}"
    CANARIES.add(subject, out_subject, kind="subject")
    to = f"rcpt-{secrets.token_hex(4)}@example.net"
    CANARIES.add(to, kind="address")

    async def session() -> str:
        ssl_ctx = container.ca.client_context()
        async with ApiClient(container.url, ssl_ctx) as api:
            resp = await api.login(email, password)
            assert resp.status == 201, resp
            boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
            inbox = next(b for b in boxes if b["role"] == "inbox")
            listing = await api.get(f"/api/mailboxes/{inbox['id']}/messages")
            assert listing.status == 200, listing
            [summary] = [m for m in listing.json()["messages"] if m["subject"] == subject]
            opened = await api.get(f"/api/messages/{summary['id']}")
            assert opened.status == 200, opened
            assert opened.json()["text"].strip() == "read through the container"
            sent = await api.post(
                "/api/send", json={"to": [to], "subject": out_subject, "text": "sent from it\n"}
            )
            assert sent.status == 200, sent
            sent_box = next(b for b in boxes if b["role"] == "sent")
            copies = await api.get(f"/api/mailboxes/{sent_box['id']}/messages")
            assert [m["subject"] for m in copies.json()["messages"]] == [out_subject]
            assert (await api.logout()).status == 204
            message_id: str = sent.json()["message_id_header"]
            return message_id

    message_id = asyncio.run(session())
    received = [
        mail
        for mail in list(sandbox.sandbox.smtp.received)
        if message_from_bytes(mail.content, policy=policy.default)["Message-ID"] == message_id
    ]
    assert len(received) == 1
    assert received[0].mail_from == email and list(received[0].rcpt_tos) == [to]
    time.sleep(2)
    busy_rss = container.rss_mib()

    # SIGTERM (the image's STOPSIGNAL) ends it cleanly.
    podman("stop", "--time=20", container.name, timeout=60)
    stopped = podman.inspect(container.name)["State"]
    logs = container.logs()
    assert stopped["ExitCode"] == 0, logs
    lines = [line for line in logs.splitlines() if line.strip()]
    assert any('"event":"server_started"' in line for line in lines), logs
    # Its log holds no personal data (the same check as every in-process test's).
    assert find_leaks(lines, CANARIES.items()) == [], logs

    with capsys.disabled():
        print("\n[container] " + "\n[container] ".join(_REPORT))
        print(
            f"[container] healthy {healthy_after:.1f} s after start; "
            f"idle RSS {idle_rss:.1f} MiB, {busy_rss:.1f} MiB after a login, a read and a send"
        )
