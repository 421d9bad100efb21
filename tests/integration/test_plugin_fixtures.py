"""The plugin's real-server fixtures: mailgate over real HTTPS against the sandbox."""

from __future__ import annotations

from mailgate.testing.client import ApiClient
from mailgate.testing.servers import RunningMailgate


async def test_server_and_client_fixtures(
    mailgate_server: RunningMailgate,
    mailgate_client: ApiClient,
    mailgate_account: tuple[str, str],
) -> None:
    assert mailgate_server.url.startswith("https://localhost:")
    assert (await mailgate_client.login(*mailgate_account)).status == 201
    resp = await mailgate_client.get("/api/session")
    assert resp.status == 200 and resp.json()["account"] == {"email": mailgate_account[0]}
    assert len(await mailgate_server.services.store.lookups()) == 1
