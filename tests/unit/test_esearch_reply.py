"""Reading an ESEARCH ``ALL`` reply (RFC 4731) for the newest UIDs of a mailbox: replies
as the wire has them (the TAG correlator, any case, ALL after other items, ranges in any
order and direction, overlapping), the ALL item left out when nothing matched, and
replies that are not UID sets refused. Only the UIDs wanted are ever made: a set that
names four billion of them costs what its text costs."""

from __future__ import annotations

import tracemalloc

from mailgate.mail.imap.client import _esearch_all, _expand, _newest_in_set
from mailgate.mail.imap.protocol import Response, _parse_untagged


def _reply(line: bytes) -> Response:
    return Response("OK", untagged=[_parse_untagged([line], [])])


def test_the_all_item_is_found_wherever_it_is() -> None:
    assert _esearch_all(_reply(b'* ESEARCH (TAG "A1") UID ALL 1:3,7')) == "1:3,7"
    assert _esearch_all(_reply(b'* esearch (tag "ALL") uid min 1 all 4:2')) == "4:2"
    assert _esearch_all(_reply(b'* ESEARCH (TAG "A1") UID')) == ""  # nothing matched
    assert _esearch_all(_reply(b'* ESEARCH (TAG "A1") UID ALL')) is None
    assert _esearch_all(Response("OK")) is None  # no ESEARCH reply at all


def test_the_newest_are_taken_from_merged_ranges() -> None:
    assert _newest_in_set("7:9,1,12:10,8", 4) == [9, 10, 11, 12]
    assert _newest_in_set("7:9,1,12:10,8", 50) == [1, 7, 8, 9, 10, 11, 12]
    assert _newest_in_set("1:5,3:8,20", 3) == [7, 8, 20]
    assert _newest_in_set("", 10) == []


def test_a_huge_set_costs_only_what_is_taken() -> None:
    tracemalloc.start()
    try:
        newest = _newest_in_set("1:4294967295,1:4294967295", 500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert newest == list(range(4294967295 - 499, 4294967296))
    assert peak < 256 * 1024  # the 500 taken, not the 4 billion named


def test_what_is_not_a_uid_set_is_refused() -> None:
    for bad in ("1:x", "0:5", "4294967296", "²", "1" * 4301, "1,,2", "1:2:3"):
        assert _newest_in_set(bad, 10) is None, bad


def test_the_same_reading_serves_copyuid_and_vanished_sets_in_their_order() -> None:
    # COPYUID pairs source and destination UIDs by position, so direction is kept.
    assert _expand("5:3,7") == [5, 4, 3, 7]
    assert len(_expand("1:10001")) == 10_001
    assert _expand("1:10002") == []  # a range too large to expand: unknown
    for bad in ("²", "1:x", "0", ""):
        assert _expand(bad) == [], bad  # once "²" passed isdigit() and broke int()
