"""Shared fixtures: real IMAP servers (Dovecot and the pymap sandbox) and mailgate itself.

The log-privacy check runs per test (mailgate.testing.logcheck, switched on in
pyproject.toml): every account, password and subject made here is registered as a
canary, and a test whose log holds one fails and is named."""

from __future__ import annotations

import gc
import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from mailgate.clock import SYSTEM_CLOCK, Clock
from mailgate.config import Config
from mailgate.logs import quiet_sandbox_loggers
from mailgate.testing.client import ApiClient
from mailgate.testing.logcheck import CANARIES
from mailgate.testing.servers import RunningMailgate, RunningSandbox, upstream_config
from tests.servers.dovecot import Dovecot
from tests.servers.radicale import Radicale

pytest_plugins = ["pytester"]  # tests/unit/test_logcheck.py runs the check on a leaky test

OUTPUT = Path(__file__).parent / "output"
_user_seq = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    OUTPUT.mkdir(exist_ok=True)
    # The privacy check collects INFO and up, and mailgate's DEBUG events; the sandbox's
    # servers run in this process and log peers, which `mailgate demo` keeps quiet too.
    quiet_sandbox_loggers()


# How many tests may run between two full collections of what earlier tests left behind.
_COLLECT_EVERY = 100
_tests_since_collect = itertools.count(1)


@pytest.fixture(autouse=True)
def _earlier_tests_garbage_out_of_the_way() -> Iterator[None]:
    """The servers under test run in this process, which by the end of the suite holds
    hundreds of thousands of objects from earlier tests. A full collection of them paused
    every thread for up to 1.4 s (measured with gc callbacks) and failed a check of how late
    the server's event loop ran. That pause is the harness's, not the server's: during a
    test the earlier objects are frozen, and they are collected between tests, now and then."""
    gc.freeze()
    yield
    gc.unfreeze()
    if next(_tests_since_collect) % _COLLECT_EVERY == 0:
        gc.collect()


@dataclass
class Upstream:
    """One real IMAP server (plus an SMTP submission server) and a way to make users."""

    name: str
    settings: dict[str, dict[str, Any]]
    add_user: Callable[[str, str], None]
    deliver_raw: Callable[..., Any]
    users: list[tuple[str, str]] = field(default_factory=list)

    def new_user(self) -> tuple[str, str]:
        n = next(_user_seq)
        email = f"user{n}-{secrets.token_hex(3)}@example.test"
        password = f"pw-{secrets.token_urlsafe(12)} ✓"
        self.add_user(email, password)
        CANARIES.add(email, email.split("@")[0], kind="account")
        CANARIES.add(password, kind="password")
        self.users.append((email, password))
        return email, password

    def deliver(self, email: str, raw: bytes, *args: Any, **kwargs: Any) -> Any:
        """Deliver a message; its subject, addresses and names become log canaries."""
        _register_message_canaries(raw)
        return self.deliver_raw(email, raw, *args, **kwargs)


def _register_message_canaries(raw: bytes) -> None:
    # Only values long enough not to match an event name or a word by chance; the
    # malformed corpus messages may not parse, which is their point.
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        values = [("subject", str(headers.get("subject", "") or "").strip())]
        for name in ("from", "to", "cc", "reply-to"):
            for address in getattr(headers.get(name), "addresses", ()):
                values += [("address", address.addr_spec), ("name", address.display_name)]
    except Exception:
        return
    for kind, value in values:
        if len(value) >= 8:
            CANARIES.add(value, kind=kind)


@pytest.fixture(scope="session")
def sandbox(mailgate_sandbox: RunningSandbox) -> RunningSandbox:
    """The plugin's sandbox (mailgate.testing.plugin), one per test session."""
    return mailgate_sandbox


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not Dovecot.available():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd); .ci/run installs it")
    server = Dovecot(quota_storage="1G")
    server.start()
    yield server
    server.stop()
    server.cleanup()


@pytest.fixture(scope="session")
def radicale() -> Iterator[Radicale]:
    """A real CardDAV server (Radicale) over TLS with a test CA and htpasswd users."""
    if not Radicale.available():
        pytest.skip("radicale is not installed (apt-get install radicale); .ci/run installs it")
    server = Radicale()
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

    def make(clock: Clock | None = None, **overrides: dict[str, Any]) -> RunningMailgate:
        config: Config = upstream_config(upstream.settings, **overrides)
        running = RunningMailgate(config, clock=clock or SYSTEM_CLOCK).start()
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
