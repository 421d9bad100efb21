"""Pytest plugin, registered as the `mailgate` entry point: installed with mailgate, its
fixtures are there in every test session (no `conftest.py` needed).

Fixtures:

- ``manual_clock``: a :class:`~mailgate.testing.clock.ManualClock` that moves only when
  the test calls ``advance(seconds)``.
- ``mailgate_sandbox`` (session): the embedded sandbox, pymap IMAP (STARTTLS) and
  aiosmtpd submission (TLS) with a local CA, in a background thread.
- ``mailgate_account``: a new ``(email, password)`` in the sandbox with seeded mail;
  both are registered as log canaries.
- ``mailgate_server``: mailgate over real HTTPS on 127.0.0.1 against the sandbox
  (``.url``, ``.client_ssl()``, ``.services``), stopped after the test.
- ``mailgate_client`` (needs pytest-asyncio, as the next one): an
  :class:`~mailgate.testing.client.ApiClient` for it.
- ``mailgate_inprocess``: mailgate's real app against the
  sandbox, served in the test's own event loop by aiohttp's ``TestServer`` (no TLS, no
  thread) on ``manual_clock``; ``.client()`` gives an ApiClient.
- ``log_canaries``: register strings that must never be logged.
- ``mailgate_log``: a function returning this test's log so far as parsed JSON events.

With ``mailgate_log_privacy = true`` in the pytest configuration, every test's log (all
loggers, all threads, as mailgate formats it) is checked for registered canaries, e-mail
and IP addresses and lines that are not one JSON event, and a test that leaked fails at
its teardown (see logcheck.py).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from mailgate.testing.clock import ManualClock
from mailgate.testing.logcheck import CANARIES, Canaries, LogPrivacyCheck

if TYPE_CHECKING:
    from mailgate.testing.client import ApiClient
    from mailgate.testing.servers import RunningMailgate, RunningSandbox

__all__ = ["LOG_PRIVACY_PLUGIN", "log_privacy_check"]

LOG_PRIVACY_PLUGIN = "mailgate-log-privacy"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "mailgate_log_privacy",
        "fail each test whose log holds personal data (mailgate.testing.logcheck)",
        type="bool",
        default=False,
    )
    parser.addini(
        "mailgate_log_forbidden",
        "fixed strings no log line may hold (mailbox names, search terms used by tests)",
        type="linelist",
        default=[],
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getini("mailgate_log_privacy"):
        check = LogPrivacyCheck(CANARIES, fixed=config.getini("mailgate_log_forbidden"))
        check.install()
        config.pluginmanager.register(check, LOG_PRIVACY_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    check = config.pluginmanager.get_plugin(LOG_PRIVACY_PLUGIN)
    if isinstance(check, LogPrivacyCheck):
        check.uninstall()


def log_privacy_check(config: pytest.Config) -> LogPrivacyCheck | None:
    plugin = config.pluginmanager.get_plugin(LOG_PRIVACY_PLUGIN)
    return plugin if isinstance(plugin, LogPrivacyCheck) else None


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def log_canaries() -> Canaries:
    return CANARIES


@pytest.fixture
def mailgate_log(request: pytest.FixtureRequest) -> Callable[[], list[dict[str, Any]]]:
    check = log_privacy_check(request.config)
    if check is None:
        pytest.skip("mailgate_log needs mailgate_log_privacy = true in the pytest configuration")
    item = request.node

    def entries() -> list[dict[str, Any]]:
        return check.entries(item)

    return entries


@pytest.fixture(scope="session")
def mailgate_sandbox() -> Iterator[RunningSandbox]:
    from mailgate.testing.servers import RunningSandbox

    running = RunningSandbox()
    yield running
    running.close()


@pytest.fixture
def mailgate_account(mailgate_sandbox: RunningSandbox) -> tuple[str, str]:
    email = f"tester-{secrets.token_hex(4)}@example.test"
    password = f"pw-{secrets.token_urlsafe(12)}"
    CANARIES.add(email, email.split("@")[0], kind="account")
    CANARIES.add(password, kind="password")
    mailgate_sandbox.add_user(email, password, seed=True)
    return email, password


@pytest.fixture
def mailgate_server(mailgate_sandbox: RunningSandbox) -> Iterator[RunningMailgate]:
    from mailgate.testing.servers import RunningMailgate, upstream_config

    running = RunningMailgate(upstream_config(mailgate_sandbox.settings())).start()
    yield running
    running.stop()


try:
    import pytest_asyncio
except ImportError:  # the client fixtures need an event loop per test
    pass
else:

    @pytest_asyncio.fixture
    async def mailgate_client(mailgate_server: RunningMailgate) -> AsyncIterator[ApiClient]:
        from mailgate.testing.client import ApiClient

        async with ApiClient(mailgate_server.url, mailgate_server.client_ssl()) as api:
            yield api

    @pytest_asyncio.fixture
    async def mailgate_inprocess(
        mailgate_sandbox: RunningSandbox, manual_clock: ManualClock
    ) -> AsyncIterator[Any]:
        from mailgate.testing.inprocess import InProcessMailgate
        from mailgate.testing.servers import upstream_config

        config = upstream_config(mailgate_sandbox.settings())
        async with InProcessMailgate(config, clock=manual_clock) as running:
            yield running
