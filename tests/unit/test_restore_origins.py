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


def test_junk_keywords_kept_for_undo_are_bounded_and_wiped_too() -> None:
    svc = ReadingService(cast(Any, None), cast(Any, None))
    for i in range(MAX_ORIGINS + 3):
        svc._remember("a", f"id{i}", "INBOX", ("$NotJunk",) if i % 2 else ())
    svc._remember("a", "moved", "Work")  # a plain move or delete: no keywords noted
    marks = svc.junk_marks["a"]
    assert len(marks) == MAX_ORIGINS and "id0" not in marks and "moved" not in marks
    assert marks[f"id{MAX_ORIGINS + 2}"] == () and marks[f"id{MAX_ORIGINS + 1}"] == ("$NotJunk",)
    svc._forget_moved("a", f"id{MAX_ORIGINS + 2}")
    assert f"id{MAX_ORIGINS + 2}" not in svc.junk_marks["a"]
    assert f"id{MAX_ORIGINS + 2}" not in svc.origins["a"]
    svc.wipe("a")
    assert "a" not in svc.junk_marks and "a" not in svc.origins
