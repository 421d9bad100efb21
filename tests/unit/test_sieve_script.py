"""mailgate's Sieve script: generated from the rules, read back only from its own header,
and the ManageSieve response tokenizer on odd but valid server replies."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from mailgate.mail.sieve import (
    Rules,
    RulesError,
    ScriptError,
    SieveRefused,
    SieveUnavailable,
    generate,
    is_mailgate_script,
    parse_filters,
    parse_rules,
    parse_vacation,
)
from mailgate.mail.sieve.protocol import SieveConnection
from mailgate.mail.sieve.script import MARKER, quote

ALL = frozenset({"vacation", "date", "relational", "fileinto", "copy", "imap4flags"})


def _rules() -> Rules:
    vacation = parse_vacation(
        {
            "enabled": True,
            "subject": 'Away "for now"',
            "text": "Back on Monday.\nC:\\temp is not a path here.",
            "start": "2026-07-01",
            "end": "2026-07-14",
            "days": 3,
            "addresses": ["me@example.org", "alias@example.org"],
        }
    )
    filters = parse_filters(
        [
            {
                "name": "Receipts",
                "conditions": [
                    {"field": "from", "op": "contains", "value": "@shop.example"},
                    {"field": "subject", "op": "matches", "value": "Order *"},
                ],
                "actions": [{"type": "fileinto", "folder": "Receipts"}, {"type": "mark_read"}],
            },
            {
                "name": "Off",
                "enabled": False,
                "conditions": [],
                "actions": [{"type": "discard"}],
            },
            {
                "match": "any",
                "conditions": [
                    {"field": "to_cc", "op": "is", "value": "team@example.org"},
                    {"field": "header", "header": "X-Spam-Flag", "op": "is", "value": "YES"},
                    {"field": "size", "op": "over", "value": 1000000},
                ],
                "actions": [
                    {"type": "copy", "folder": "Team/\u00c9quipe"},
                    {"type": "flag"},
                    {"type": "redirect", "address": "backup@example.net"},
                    {"type": "stop"},
                ],
            },
        ],
        allow_forward=True,
    )
    return Rules(vacation, filters)


def test_generated_script() -> None:
    text = generate(_rules(), ALL)
    lines = text.split("\r\n")
    assert lines[0] == MARKER
    assert lines[2] == (
        'require ["fileinto", "copy", "imap4flags", "vacation", "date", "relational"];'
    )
    assert (
        'if allof(not exists "list-id", not header :is "precedence" ["bulk", "list", "junk"], '
        'currentdate :value "ge" "date" "2026-07-01", '
        'currentdate :value "le" "date" "2026-07-14") {'
    ) in lines
    assert (
        '  vacation :days 3 :subject "Away \\"for now\\"" '
        ':addresses ["me@example.org", "alias@example.org"] "Back on Monday.'
    ) in lines
    assert '  addflag "\\\\Seen";' in lines
    assert (
        'if allof(address :all :contains "from" "@shop.example", '
        'header :matches "subject" "Order *") {'
    ) in lines
    # Flags before the fileinto they apply to; the disabled rule is not in the script.
    third = lines[lines.index('  addflag "\\\\Flagged";') - 1 :]
    assert third[:6] == [
        'if anyof(address :all :is ["to", "cc"] "team@example.org", '
        'header :is "X-Spam-Flag" "YES", size :over 1000000) {',
        '  addflag "\\\\Flagged";',
        '  fileinto :copy "Team/\u00c9quipe";',
        '  redirect "backup@example.net";',
        "  stop;",
        "}",
    ]
    assert "discard;" not in text
    assert text.endswith("}\r\n")


def test_the_header_reads_back_exactly() -> None:
    rules = _rules()
    text = generate(rules, ALL)
    assert is_mailgate_script(text)
    assert parse_rules(text) == rules
    # LF line ends (a server that normalises them) read back the same.
    assert parse_rules(text.replace("\r\n", "\n")) == rules


@pytest.mark.parametrize(
    "text",
    [
        'require "fileinto";\r\nfileinto "Junk";\r\n',
        "",
        MARKER + "\r\n",
        MARKER + "\r\n# mailgate-rules: {not json\r\n",
        MARKER + '\r\n# mailgate-rules: {"filters": [{"actions": []}]}\r\n',
        MARKER + '\r\n# mailgate-rules: {"vacation": {"enabled": "yes"}}\r\n',
        MARKER + "\r\n# mailgate-rules: []\r\n",
        "# comment first\r\n" + MARKER + "\r\n# mailgate-rules: {}\r\n",
        MARKER + "\r\n# mailgate-rules: " + "[" * 100_000 + "\r\n",
    ],
)
def test_other_scripts_and_damaged_headers_are_not_ours(text: str) -> None:
    assert parse_rules(text) is None


def test_an_empty_header_is_empty_rules() -> None:
    assert parse_rules(MARKER + "\r\n# mailgate-rules: {}\r\nanything;\r\n") == Rules()


def test_missing_extensions_are_named() -> None:
    rules = _rules()
    with pytest.raises(ScriptError, match="dates"):
        generate(rules, ALL - {"date"})
    with pytest.raises(ScriptError, match="imap4flags"):
        generate(rules, ALL - {"imap4flags"})
    # Without dates the vacation does not need date/relational.
    plain = Rules(parse_vacation({"enabled": True, "text": "away"}), ())
    assert "currentdate" not in generate(plain, frozenset({"vacation"}))
    assert generate(Rules(), frozenset()).count("\r\n") == 2  # marker and header only


def test_more_forwards_than_the_server_allows() -> None:
    rules = _rules()  # one enabled redirect
    assert "redirect" in generate(rules, ALL, max_redirects=1)
    with pytest.raises(ScriptError, match="at most 0 forwarding"):
        generate(rules, ALL, max_redirects=0)


def test_quoting() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.parametrize(
    "data",
    [
        {"enabled": True, "text": " "},
        {"text": "x", "days": 0},
        {"text": "x", "days": True},
        {"text": "x", "start": "2026-7-1"},
        {"text": "x", "start": "2026-02-29"},
        {"text": "x", "start": "2026-03-02", "end": "2026-03-01"},
        {"text": "x", "subject": "a\r\nBcc: x@y"},
        {"text": "x\0"},
        {"text": "x", "addresses": ["not-an-address"]},
        {"text": "x", "addresses": "me@example.org"},
        {"text": "x", "surprise": 1},
        [],
    ],
)
def test_bad_vacation(data: object) -> None:
    with pytest.raises(RulesError):
        parse_vacation(data)


@pytest.mark.parametrize(
    "rule",
    [
        {"actions": []},
        {"actions": [{"type": "fileinto", "folder": " "}]},
        {"actions": [{"type": "delete"}]},
        {"actions": [{"type": "stop", "folder": "x"}]},
        {"actions": [{"type": "redirect", "address": "a@b.example"}]},  # forward not allowed
        {
            "conditions": [{"field": "body", "op": "is", "value": "x"}],
            "actions": [{"type": "stop"}],
        },
        {"conditions": [{"field": "size", "op": "is", "value": 1}], "actions": [{"type": "stop"}]},
        {
            "conditions": [{"field": "size", "op": "over", "value": "1"}],
            "actions": [{"type": "stop"}],
        },
        {"conditions": [{"field": "from", "op": "is", "value": ""}], "actions": [{"type": "stop"}]},
        {
            "conditions": [{"field": "header", "header": "Bad: name", "op": "is", "value": "x"}],
            "actions": [{"type": "stop"}],
        },
        {"match": "some", "actions": [{"type": "stop"}]},
        {"name": "x" * 101, "actions": [{"type": "stop"}]},
    ],
)
def test_bad_filter(rule: dict) -> None:
    with pytest.raises(RulesError):
        parse_filters([rule], allow_forward=False)


def test_filter_limits() -> None:
    with pytest.raises(RulesError):
        parse_filters([{"actions": [{"type": "stop"}]}] * 101, allow_forward=False)
    assert len(parse_filters([{"actions": [{"type": "stop"}]}] * 100, allow_forward=False)) == 100


def test_dates_are_dates() -> None:
    vacation = parse_vacation({"text": "x", "start": "2026-01-31", "end": None})
    assert vacation.start == dt.date(2026, 1, 31) and vacation.end is None


# -- the response tokenizer -------------------------------------------------------------------


async def _conn(wire: bytes) -> SieveConnection:
    reader = asyncio.StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()

    class _Writer:
        def write(self, data: bytes) -> None:
            pass

        def is_closing(self) -> bool:
            return False

        def close(self) -> None:
            pass

        def get_extra_info(self, name: str) -> object:
            return None

    return SieveConnection(reader, _Writer(), timeout=2)  # type: ignore[arg-type]


async def test_listscripts_with_literals_and_quotes() -> None:
    conn = await _conn(
        b'"plain" ACTIVE\r\n{8}\r\nwith "q"\r\n"back\\\\slash"\r\nOK "Listscripts completed."\r\n'
    )
    scripts = await conn.list_scripts()
    assert [(s.name, s.active) for s in scripts] == [
        ("plain", True),
        ('with "q"', False),
        ("back\\slash", False),
    ]


async def test_a_refusal_keeps_the_servers_words_apart() -> None:
    conn = await _conn(b"NO (QUOTA/MAXSIZE) {23}\r\nScript is\r\ntoo large.\x07 \r\n")
    with pytest.raises(SieveRefused) as caught:
        await conn.put_script("mailgate", "keep;")
    assert caught.value.code == "QUOTA/MAXSIZE"
    assert caught.value.reason == "quota_maxsize"
    assert caught.value.server_message == "Script is\ntoo large."
    assert "too large" not in str(caught.value)


@pytest.mark.parametrize(
    "wire",
    [b'"unterminated\r\nOK\r\n', b"(((\r\nOK\r\n", b"{99999999}\r\n", b'"a" ACTIVE\r\n'],
)
async def test_malformed_replies_close_the_connection(wire: bytes) -> None:
    conn = await _conn(wire)
    # A protocol error, or end of stream for a reply that never completes.
    with pytest.raises(SieveUnavailable):
        await conn.list_scripts()
    assert conn.closed
