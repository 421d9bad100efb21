"""Reading an ESEARCH ``ALL`` reply (RFC 4731): ranges in any order and direction, the
ALL item left out when nothing matched, and a reply naming more UIDs than the mailbox
holds refused before anything is expanded (a server cannot make mailgate build a list of
four billion numbers)."""

from __future__ import annotations

from mailgate.mail.imap.client import _esearch_all, _expand_ranges
from mailgate.mail.imap.protocol import Response, Untagged


def _reply(*data: object) -> Response:
    return Response("OK", untagged=[Untagged(None, "ESEARCH", [["TAG", "A1"], *data])])  # type: ignore[list-item]


def test_ranges_are_read_and_expanded_once_each() -> None:
    ranges = _esearch_all(_reply("UID", "ALL", "7:9,1,12:10,8"), most=10)
    assert ranges == [(7, 9), (1, 1), (10, 12), (8, 8)]
    assert _expand_ranges(ranges) == [1, 7, 8, 9, 10, 11, 12]


def test_nothing_matched_leaves_the_all_item_out() -> None:
    assert _esearch_all(_reply("UID"), most=0) == []


def test_more_uids_than_messages_is_refused_before_expanding() -> None:
    assert _esearch_all(_reply("UID", "ALL", "1:4294967295"), most=100_000) is None
    assert _esearch_all(_reply("UID", "ALL", "1:50,60:110"), most=100) is None
    assert _esearch_all(_reply("UID", "ALL", "1:50,60:109"), most=100) == [(1, 50), (60, 109)]


def test_unreadable_or_missing_replies_fall_back() -> None:
    assert _esearch_all(_reply("UID", "ALL", "1:x"), most=10) is None
    assert _esearch_all(_reply("UID", "ALL"), most=10) is None
    assert _esearch_all(Response("OK"), most=10) is None
