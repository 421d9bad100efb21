"""The origins "Restore" uses are per session, bounded, and go when the session is wiped."""

from __future__ import annotations

from typing import Any, cast

from mailgate.mail.reading.service import MAX_ORIGINS, ReadingService


def test_origins_are_bounded_per_session_and_wiped_with_it() -> None:
    svc = ReadingService(cast(Any, None), cast(Any, None))
    for i in range(MAX_ORIGINS + 5):
        svc._remember("a", f"id{i}", "Receipts")
    svc._remember("b", "other", "Work")
    svc._remember("b", None, "Work")  # no new id (no UIDPLUS): nothing to remember
    kept = svc.origins["a"]
    assert len(kept) == MAX_ORIGINS
    assert "id0" not in kept and kept[f"id{MAX_ORIGINS + 4}"] == "Receipts"
    svc.wipe("a")
    assert "a" not in svc.origins
    assert svc.origins["b"] == {"other": "Work"}
