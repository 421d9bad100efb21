"""Shared fixtures: real IMAP servers (Dovecot and the pymap sandbox), mailgate itself,
and a log capture that the final test checks for personal data."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailgate.config import Config
from mailgate.logs import JsonLineFormatter, quiet_sandbox_loggers
from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate, RunningSandbox, upstream_config
from tests.servers.dovecot import Dovecot

OUTPUT = Path(__file__).parent / "output"
SUITE_LOG = OUTPUT / f"suite-{os.getpid()}.log"

# Every secret and personal value the suite uses; the final test greps the logs for them.
CANARIES: set[str] = set()
_user_seq = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    OUTPUT.mkdir(exist_ok=True)
    handler = logging.FileHandler(SUITE_LOG, mode="w", encoding="utf-8")
    handler.setFormatter(JsonLineFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("mailgate").setLevel(logging.DEBUG)
    quiet_sandbox_loggers()


@dataclass
class Upstream:
    """One real IMAP server (plus an SMTP submission server) and a way to make users."""

    name: str
    settings: dict[str, dict[str, Any]]
    add_user: Callable[[str, str], None]
    deliver: Callable[..., Any]
    users: list[tuple[str, str]] = field(default_factory=list)

    def new_user(self) -> tuple[str, str]:
        n = next(_user_seq)
        email = f"user{n}-{secrets.token_hex(3)}@example.test"
        password = f"pw-{secrets.token_urlsafe(12)} ✓"
        self.add_user(email, password)
        CANARIES.update({email, password, email.split("@")[0]})
        self.users.append((email, password))
        return email, password


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    running = RunningSandbox()
    yield running
    running.close()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd); .ci/run installs it")
    server = Dovecot()
    server.start()
    yield server
    server.stop()
    server.cleanup()


@pytest.fixture(params=["pymap", "dovecot"])
def upstream(request: pytest.FixtureRequest, sandbox: RunningSandbox) -> Upstream:
    if request.param == "pymap":
        return Upstream("pymap", sandbox.settings(), sandbox.add_user, sandbox.deliver)
    dc: Dovecot = request.getfixturevalue("dovecot")
    settings = sandbox.settings()
    settings["imap"] = {"host": dc.host, "port": dc.port, "security": "tls"}
    # Dovecot's CA and the sandbox CA (for SMTP) are both trusted.
    settings["upstream"] = {
        "ca_file": _combined_ca(dc.ca_file, sandbox.ca_file),
        "allow_any_port": True,
    }
    return Upstream("dovecot", settings, dc.add_user, dc.deliver)


def _combined_ca(*files: str) -> str:
    target = OUTPUT / f"ca-{abs(hash(files))}.pem"
    target.write_bytes(b"".join(Path(f).read_bytes() for f in files))
    return str(target)


@pytest.fixture
def make_mailgate(upstream: Upstream) -> Iterator[Callable[..., RunningMailgate]]:
    started: list[RunningMailgate] = []

    def make(**overrides: dict[str, Any]) -> RunningMailgate:
        config: Config = upstream_config(upstream.settings, **overrides)
        running = RunningMailgate(config).start()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def mailgate(make_mailgate: Callable[..., RunningMailgate]) -> RunningMailgate:
    return make_mailgate()


@pytest.fixture
async def client(mailgate: RunningMailgate) -> Any:
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        yield api


@pytest.fixture
def user(upstream: Upstream) -> tuple[str, str]:
    return upstream.new_user()


@pytest.fixture
async def logged_in(client: ApiClient, user: tuple[str, str]) -> ApiClient:
    resp = await client.login(*user)
    assert resp.status == 201, resp
    return client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The log-privacy check reads what every other test wrote, so it runs last.
    items.sort(key=lambda item: "zz_final" in str(item.fspath))
