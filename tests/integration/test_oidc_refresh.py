"""A provider-signed session keeps its access token fresh: shortly before it expires the
token is refreshed at the provider and sealed back into the session; a refused refresh
ends the session (issue 21)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from mailgate.testing.servers import RunningSandbox
from tests.integration.test_oidc_signin import Stack, _at_provider, _finish, _start, build_stack

pytestmark = pytest.mark.dovecot


@pytest.fixture(scope="module")
def short_lived(sandbox: RunningSandbox) -> Iterator[Stack]:
    # 30 s is inside the 60 s refresh margin: every request with activity refreshes.
    with build_stack(sandbox, access_token_ttl=30) as built:
        yield built


async def _provider(stack: Stack, path: str) -> Any:
    ctx = ssl.create_default_context(cafile=stack.provider.ca_file)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http,
        http.get(f"{stack.provider.issuer}{path}") as resp,
    ):
        assert resp.status == 200
        return await resp.json() if resp.content_type == "application/json" else None


async def test_the_access_token_is_refreshed_and_a_refused_refresh_ends_the_session(
    short_lived: Stack,
) -> None:
    stack = short_lived
    email = stack.new_user()
    async with stack.client() as api:
        url, binding = await _start(api, "alpha.test")
        resp = await _finish(api, await _at_provider(stack, url, email), binding)
        assert resp.status == 201, resp
        before = (await _provider(stack, "/test/revoked"))["grants"].count("refresh_token")
        assert (await api.get("/api/mailboxes")).status == 200
        after = (await _provider(stack, "/test/revoked"))["grants"].count("refresh_token")
        assert after == before + 1
        # The refreshed tokens were sealed back: the session still works, and refreshes again.
        assert (await api.get("/api/session")).status == 200

        await _provider(stack, "/test/refuse-tokens")
        ended = await api.get("/api/mailboxes")
        assert ended.status == 401 and ended.error_code == "auth_required", ended
        assert (await api.get("/api/session")).status == 401
