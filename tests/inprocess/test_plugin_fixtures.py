"""The fixtures mailgate.testing.plugin promises, used the way an outside project would
(no conftest of ours involved: these names come from the `mailgate` pytest plugin)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailgate.testing.clock import ManualClock
from mailgate.testing.inprocess import InProcessMailgate
from mailgate.testing.logcheck import Canaries


async def test_inprocess_app_with_a_seeded_account(
    mailgate_inprocess: InProcessMailgate,
    mailgate_account: tuple[str, str],
    manual_clock: ManualClock,
    log_canaries: Canaries,
    mailgate_log: Callable[[], list[dict[str, Any]]],
) -> None:
    assert mailgate_inprocess.clock is manual_clock
    assert mailgate_account[0] in log_canaries and mailgate_account[1] in log_canaries
    api = mailgate_inprocess.client()
    assert (await api.login(*mailgate_account)).status == 201
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b for b in boxes if b["role"] == "inbox")
    assert inbox["total"] > 0  # the sandbox seeded it
    events = [entry["event"] for entry in mailgate_log()]
    assert "login" in events and "request" in events
    # Idle for the configured 1200 s on the test's clock: the session is gone.
    await mailgate_inprocess.advance(1200)
    assert (await api.get("/api/session")).status == 401
