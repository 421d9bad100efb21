"""The per-test log-privacy check (invariant 5, SEC-55, SEC-56) is itself tested: it finds
what it must, passes what is clean, and fails the test that leaked, by name."""

from __future__ import annotations

import json
import logging

import pytest

from mailgate.logs import JsonLineFormatter
from mailgate.testing.logcheck import Canaries, find_leaks


def _line(event: str, **fields: object) -> str:
    record = logging.LogRecord("mailgate", logging.INFO, __file__, 1, event, None, None)
    record.fields = fields
    return JsonLineFormatter().format(record)


def test_clean_events_pass() -> None:
    lines = [
        _line("request", method="GET", route="/api/mailboxes", status=200, duration_ms=1.5),
        _line("login", upstream="imap", upstream_host="imap.example.test"),
        _line("session_wiped", reason="idle"),
    ]
    assert find_leaks(lines, [("pw-secret-1", "password")]) == []


def test_an_address_in_a_line_is_found_even_unregistered() -> None:
    leaks = find_leaks([_line("login_failed", who="alice@example.test")], [])
    assert [leak.what for leak in leaks] == ["holds an e-mail address"]
    assert leaks[0].line == 0


def test_an_ip_address_is_found() -> None:
    leaks = find_leaks([_line("request_failed", peer="192.0.2.7")], [])
    assert [leak.what for leak in leaks] == ["holds an IP address"]


@pytest.mark.parametrize(
    "canary",
    ["pw-Zq8 ✓ secret", "Grüße aus Köln", "Entwürfe", "search: zebra"],
)
def test_a_registered_canary_is_found_raw_or_json_escaped(canary: str) -> None:
    canaries = Canaries()
    canaries.add(canary, kind="password")
    line = _line("oops", value=canary)  # the formatter escapes non-ASCII (\u00fc)
    assert canary.isascii() or canary not in line
    leaks = find_leaks([line], canaries.items())
    assert [leak.what for leak in leaks] == ["holds a registered password"]


def test_short_canaries_are_skipped_unless_given_as_fixed_strings() -> None:
    canaries = Canaries()
    canaries.add("ab", kind="name")
    canaries.add("::1", kind="forbidden string", any_length=True)
    assert "ab" not in canaries and "::1" in canaries
    assert find_leaks([_line("x", host="::1")], canaries.items())


def test_lines_that_are_not_one_safe_event_are_found() -> None:
    assert find_leaks(["plain text from some library"], [])[0].what == "is not JSON"
    assert "not one event" in find_leaks([json.dumps({"msg": "x"})], [])[0].what
    with_query = _line("request", method="GET", route="/api/messages?q=x", status=200)
    assert find_leaks([with_query], [])[0].what == "is a request line with a query"
    with_url = _line("request", method="GET", route="/x", url="/x", status=200)
    assert "more than the route" in find_leaks([with_url], [])[0].what


_LEAKY_TESTS = """
import logging

from mailgate.logs import log_event
from mailgate.testing.logcheck import CANARIES


def test_clean():
    log_event("session_wiped", reason="idle")


def test_leaks_an_address():
    log_event("login_failed", account="leaky.person@example.test")


def test_leaks_a_canary_from_a_thread(log_canaries):
    import threading

    log_canaries.add("hunter2-canary", kind="password")
    t = threading.Thread(target=lambda: logging.getLogger("x").warning("pw hunter2-canary"))
    t.start()
    t.join()
"""


def test_the_check_fails_the_test_that_leaked_and_only_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nmailgate_log_privacy = true\n")
    pytester.makepyfile(test_leaky=_LEAKY_TESTS)
    # Only our plugin in the inner run (a fresh process, so its log is not this one's).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess(
        "-p", "mailgate.testing.plugin", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=3, errors=2)
    out = result.stdout.str()
    assert "ERROR at teardown of test_leaks_an_address" in out
    assert "ERROR at teardown of test_leaks_a_canary_from_a_thread" in out
    assert "test_leaky.py::test_leaks_an_address logged what the log must never hold" in out
    assert "holds an e-mail address" in out
    assert "holds a registered password" in out
    assert "teardown of test_clean" not in out
