"""In-process fixtures: mailgate's real app served in the test's own event loop
(mailgate.testing.inprocess: aiohttp's TestServer, no TLS, no thread) on a ManualClock,
against the pymap sandbox. Nothing here needs Dovecot, Redis or Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from mailgate.testing.client import ApiClient
from mailgate.testing.clock import ManualClock
from mailgate.testing.inprocess import InProcessMailgate
from mailgate.testing.servers import RunningSandbox, upstream_config
from tests.conftest import Upstream

MakeInProcess = Callable[..., Awaitable[InProcessMailgate]]


@pytest.fixture
def upstream(sandbox: RunningSandbox) -> Upstream:
    """The pymap sandbox only (it runs in this process too)."""
    return Upstream("pymap", sandbox.settings(), sandbox.add_user, sandbox.deliver)


@pytest.fixture
async def make_inprocess(
    upstream: Upstream, manual_clock: ManualClock
) -> AsyncIterator[MakeInProcess]:
    """``await make_inprocess(session={...})``: config sections override the defaults."""
    started: list[InProcessMailgate] = []

    async def make(**overrides: dict[str, Any]) -> InProcessMailgate:
        config = upstream_config(upstream.settings, **overrides)
        running = await InProcessMailgate(config, clock=manual_clock).start()
        started.append(running)
        return running

    yield make
    for running in started:
        await running.close()


@pytest.fixture
async def inprocess(make_inprocess: MakeInProcess) -> InProcessMailgate:
    return await make_inprocess()


@pytest.fixture
def api(inprocess: InProcessMailgate) -> ApiClient:
    return inprocess.client()


@pytest.fixture
async def signed_in(api: ApiClient, user: tuple[str, str]) -> ApiClient:
    resp = await api.login(*user)
    assert resp.status == 201, resp
    return api
