"""Tokenizer and ENVELOPE / BODYSTRUCTURE / LIST / STATUS parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailgate.mail.imap.errors import ImapProtocolError
from mailgate.mail.imap.parse import (
    decode_words,
    has_attachments,
    has_html_body,
    parse_bodystructure,
    parse_envelope,
    parse_internaldate,
    parse_list,
    parse_status,
)
from mailgate.mail.imap.protocol import (
    LiteralArg,
    QuotedArg,
    Response,
    _parse_tagged,
    _parse_untagged,
    fetch_items,
    numbers_of,
    quote,
    tokenize,
)


def tok(line: bytes) -> list:
    return tokenize([line])


# -- tokenizer ----------------------------------------------------------------------------


def test_atoms_nil_and_nested_lists() -> None:
    assert tok(b"1 FETCH (FLAGS (\\Seen $Junk) UID 7 X NIL nil (() (a (b))))") == [
        "1",
        "FETCH",
        ["FLAGS", ["\\Seen", "$Junk"], "UID", "7", "X", None, None, [[], ["a", ["b"]]]],
    ]


def test_quoted_escapes_and_empty_string() -> None:
    assert tok(rb'"a \"q\" \\ b" "" "NIL"') == [b'a "q" \\ b', b"", b"NIL"]


def test_eight_bit_quoted_string_stays_bytes() -> None:
    assert tok('"Grüße ✓"'.encode()) == ["Grüße ✓".encode()]


def test_section_specs_are_one_atom() -> None:
    line = b"(BODY[HEADER.FIELDS (FROM TO)] {5} BODY[]<0> BINARY[1.2] NIL)"
    assert tokenize([b"(BODY[HEADER.FIELDS (FROM TO)] {5}", b" BODY[]<0> NIL)"], [b"x\r\ny\n"])[
        0
    ] == ["BODY[HEADER.FIELDS (FROM TO)]", b"x\r\ny\n", "BODY[]<0>", None]
    assert tok(line)[0][0] == "BODY[HEADER.FIELDS (FROM TO)]"


def test_literals_fill_in_order_including_literal8() -> None:
    frags = [b"(A {3}", b" B ~{2}", b")"]
    assert tokenize(frags, [b"a\x00)", b"(("]) == [["A", b"a\x00)", "B", b"(("]]


def test_literal_marker_without_literal_is_a_protocol_error() -> None:
    with pytest.raises(ImapProtocolError):
        tokenize([b"(A {3}"], [])


def test_brace_inside_quoted_string_is_not_a_literal() -> None:
    assert tok(b'"{5}"') == [b"{5}"]


def test_untagged_status_line_keeps_code_but_not_text() -> None:
    u = _parse_untagged([b'* OK [UIDVALIDITY 1234] (unbalanced "text'], [])
    assert (u.kind, u.code, u.data) == ("OK", "UIDVALIDITY", ["UIDVALIDITY", "1234"])
    u = _parse_untagged([b"* 12 EXISTS"], [])
    assert (u.number, u.kind, u.data) == (12, "EXISTS", [])


def _numbers(*lines: bytes, kind: str) -> list[int]:
    resp = Response("OK", untagged=[_parse_untagged([x], []) for x in lines])
    return numbers_of(resp, kind).tolist()


def test_sort_and_search_replies_are_read_as_numbers() -> None:
    assert _numbers(b"* SORT 9 3 12", kind="SORT") == [9, 3, 12]
    assert _numbers(b"* search 4 2", b"* SEARCH 5", kind="SEARCH") == [4, 2, 5]
    assert _numbers(b"* SEARCH", kind="SEARCH") == []  # nothing matched
    assert _numbers(b"* SEARCH 4294967295", kind="SEARCH") == [4294967295]
    # With CONDSTORE the reply ends in a MODSEQ: the tokenizer reads it, the numbers stay.
    assert _numbers(b"* SEARCH 2 7 (MODSEQ 917162500)", kind="SEARCH") == [2, 7]
    # A digit int() refuses ("²", U+00B2) is not a number here, not a ValueError.
    assert _numbers("* SEARCH 2 \u00b2 (MODSEQ 1)".encode(), kind="SEARCH") == [2]
    big = _parse_untagged([b"* SORT " + b" ".join(b"%d" % n for n in range(1, 100_001))], [])
    assert (big.kind, big.data, len(big.numbers or [])) == ("SORT", [], 100_000)


@pytest.mark.parametrize(
    "line",
    [b"* SEARCH 4294967296", b"* SORT 3 0 5", b"* SEARCH 2 99999999999999999999 (MODSEQ 1)"],
)
def test_numbers_outside_32_bits_are_a_protocol_error(line: bytes) -> None:
    # A UID or message number is a 32-bit nz-number (RFC 3501); more is a broken server,
    # not a 500.
    with pytest.raises(ImapProtocolError):
        _numbers(line, kind=line.split()[1].decode())


def test_tagged_with_code() -> None:
    resp = _parse_tagged(b"M3 OK [COPYUID 9 4 17] Moved", 3, [])
    assert (resp.status, resp.code, resp.code_data) == (
        "OK",
        "COPYUID",
        ["COPYUID", "9", "4", "17"],
    )
    assert _parse_tagged(b"M3 NO [TRYCREATE] no", 3, []).status == "NO"


def test_fetch_items_with_literal_and_pymap_peek_echo() -> None:
    u = _parse_untagged([b"* 3 FETCH (UID 9 BINARY.PEEK[2] ~{2}", b" FLAGS ())"], [b"hi"])
    assert fetch_items(u) == {"UID": "9", "BINARY[2]": b"hi", "FLAGS": []}


def test_quote_chooses_quoted_or_literal() -> None:
    assert quote('a"b\\c') == QuotedArg(b'"a\\"b\\\\c"')
    assert quote("Entwürfe") == LiteralArg("Entwürfe".encode())
    assert quote('INBOX"\r\nA1 DELETE INBOX') == LiteralArg(b'INBOX"\r\nA1 DELETE INBOX')
    with pytest.raises(ValueError):
        quote("a\0b")


# -- ENVELOPE ---------------------------------------------------------------------------------

ENVELOPE = tok(
    b'("Mon, 7 Feb 1994 21:52:25 -0800" "=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Bonn" '
    b'(("=?iso-8859-1?q?J=F6rg?=" NIL "joerg" "example.de")) '
    b'(("Sender" NIL "s" "example.de")) NIL '
    b'((NIL NIL "team" NIL) ("Ann" NIL "ann" "a.test") (NIL NIL NIL NIL) '
    b'("Bob" NIL "bob" "b.test")) '
    b'NIL NIL "<parent@x>" "<id@x>")'
)[0]


def test_envelope_decodes_words_and_groups() -> None:
    env = parse_envelope(ENVELOPE)
    assert env.subject == "Grüße aus Bonn"
    assert env.from_ == [{"name": "Jörg", "email": "joerg@example.de"}]
    assert env.sender == [{"name": "Sender", "email": "s@example.de"}]
    assert env.reply_to == []
    # group markers are dropped, members kept
    assert env.to == [
        {"name": "Ann", "email": "ann@a.test"},
        {"name": "Bob", "email": "bob@b.test"},
    ]
    assert env.in_reply_to == "<parent@x>"
    assert env.message_id == "<id@x>"
    assert env.date == datetime(1994, 2, 7, 21, 52, 25, tzinfo=timezone(timedelta(hours=-8)))


def test_envelope_all_nil_and_short() -> None:
    env = parse_envelope(tok(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)")[0])
    assert env.subject is None and env.from_ == [] and env.date is None
    assert parse_envelope(tok(b'("garbage date" "s")')[0]).subject == "s"
    assert parse_envelope(None).to == []


def test_decode_words_keeps_malformed_and_unfolds() -> None:
    assert decode_words("=?bogus-charset?q?x?=") == "=?bogus-charset?q?x?="
    assert decode_words("a\r\n b") == "a b"


def test_internaldate() -> None:
    assert parse_internaldate(b" 7-Feb-1994 21:52:25 +0000") == datetime(
        1994, 2, 7, 21, 52, 25, tzinfo=UTC
    )
    assert parse_internaldate(b"nonsense") is None


# -- BODYSTRUCTURE ----------------------------------------------------------------------------

MIXED = tok(
    b'((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 120 4 NIL NIL NIL NIL)'
    b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 300 9 NIL NIL NIL NIL) "ALTERNATIVE" '
    b'("BOUNDARY" "b2") NIL NIL NIL)'
    b'("APPLICATION" "PDF" ("NAME" "=?utf-8?q?R=C3=A9sum=C3=A9.pdf?=") NIL NIL "BASE64" 4096 NIL '
    b'("ATTACHMENT" ("FILENAME*" "utf-8\'\'R%C3%A9sum%C3%A9.pdf")) NIL NIL)'
    b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 500 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) '
    b'(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1)("IMAGE" "PNG" NIL "<c1>" NIL "BASE64" 20) '
    b'"RELATED") 20 NIL NIL NIL NIL)'
    b' "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)'
)[0]


def test_multipart_mixed_numbering_and_attachment() -> None:
    root = parse_bodystructure(MIXED)
    assert (root.part, root.content_type, root.params) == (
        "",
        "multipart/mixed",
        {"boundary": "b1"},
    )
    parts = {p.part: p for p in root.walk()}
    assert parts["1"].content_type == "multipart/alternative"
    assert parts["1.1"].content_type == "text/plain"
    assert parts["1.1"].encoding == "quoted-printable"
    assert (parts["1.1"].size, parts["1.1"].lines, parts["1.1"].charset) == (120, 4, "utf-8")
    assert parts["1.2"].content_type == "text/html"
    pdf = parts["2"]
    assert pdf.disposition == "attachment"
    assert pdf.filename == "Résumé.pdf"  # RFC 2231 filename*
    assert pdf.params["name"] == "Résumé.pdf"  # RFC 2047 name
    msg = parts["3"]
    assert msg.content_type == "message/rfc822" and msg.envelope is not None
    assert msg.envelope.subject == "inner" and msg.lines == 20
    assert msg.body is not None and msg.body.content_type == "multipart/related"
    assert parts["3.1"].content_type == "text/plain"
    assert parts["3.2"].id == "<c1>"
    assert has_attachments(root)


def test_single_part_is_section_1_and_no_attachment() -> None:
    root = parse_bodystructure(
        tok(b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1)')[0]
    )
    assert (root.part, root.content_type, root.size, root.lines) == ("1", "text/plain", 5, 1)
    assert not has_attachments(root)


def test_alternative_without_attachment_and_inline_image() -> None:
    root = parse_bodystructure(
        tok(
            b'(("text" "plain" NIL NIL NIL "7bit" 1 1)("image" "png" ("name" "a.png") "<x>" NIL '
            b'"base64" 9 NIL ("inline" NIL) NIL) "related")'
        )[0]
    )
    assert not has_attachments(root)


def test_message_rfc822_with_single_part_body_is_n_1() -> None:
    root = parse_bodystructure(
        tok(
            b'(("text" "plain" NIL NIL NIL "7bit" 1 1)("message" "rfc822" NIL NIL NIL "7bit" 9 '
            b'(NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 2 1) 3)'
            b' "mixed")'
        )[0]
    )
    assert {p.part: p.content_type for p in root.walk()} == {
        "": "multipart/mixed",
        "1": "text/plain",
        "2": "message/rfc822",
        "2.1": "text/plain",
    }
    assert has_attachments(root)


def test_odd_servers_nil_fields_and_bare_disposition() -> None:
    # NIL type/subtype/encoding, size as a string, a bare-string disposition, no extension data
    root = parse_bodystructure(
        tok(
            b'((NIL NIL NIL NIL NIL NIL "12")'
            b'("application" "zip" NIL NIL NIL NIL NIL NIL "attachment") "mixed")'
        )[0]
    )
    first, second = root.children
    assert (first.content_type, first.encoding, first.size) == ("text/plain", "7bit", 12)
    assert second.disposition == "attachment"
    assert parse_bodystructure(None).content_type == "text/plain"


def test_deep_nesting_is_bounded() -> None:
    line = b"(" * 300 + b'"text" "plain" NIL NIL NIL "7bit" 1 1' + b' "mixed")' * 299 + b")"
    root = parse_bodystructure(tok(line)[0])
    assert sum(1 for _ in root.walk()) < 60


# -- LIST / STATUS -------------------------------------------------------------------------------


def test_list_decodes_utf7_and_keeps_wire_name() -> None:
    u = _parse_untagged([b'* LIST (\\HasNoChildren \\Drafts) "/" "Entw&APw-rfe"'], [])
    entry = parse_list(u.data)
    assert (entry.raw, entry.path, entry.delimiter) == ("Entw&APw-rfe", "Entwürfe", "/")
    assert entry.flags == frozenset({"\\HasNoChildren", "\\Drafts"})
    entry = parse_list(_parse_untagged([b"* LIST (\\Noselect) NIL {3}", b""], [b"a&b"]).data)
    assert (entry.raw, entry.path, entry.delimiter) == ("a&b", "a&b", None)


def test_status() -> None:
    u = _parse_untagged([b'* STATUS "Sent" (MESSAGES 3 UNSEEN 1)'], [])
    assert parse_status(u.data) == ("Sent", {"MESSAGES": 3, "UNSEEN": 1})


@pytest.mark.parametrize(
    ("structure", "expected"),
    [
        (b'("text" "html" ("charset" "utf-8") NIL NIL "7bit" 5 1)', True),
        (b'("text" "plain" NIL NIL NIL "7bit" 5 1)', False),
        # multipart/alternative inside multipart/mixed, as most newsletters with a file
        (
            b'((("text" "plain" NIL NIL NIL "7bit" 1 1)("text" "html" NIL NIL NIL "7bit" 1 1)'
            b' "alternative")("application" "pdf" NIL NIL NIL "base64" 9 NIL'
            b' ("attachment" ("filename" "a.pdf")) NIL) "mixed")',
            True,
        ),
        # an HTML file attached, or only named: not a body
        (
            b'(("text" "plain" NIL NIL NIL "7bit" 1 1)("text" "html" NIL NIL NIL "7bit" 1 1 NIL'
            b' ("attachment" NIL) NIL) "mixed")',
            False,
        ),
        (
            b'(("text" "plain" NIL NIL NIL "7bit" 1 1)("text" "html" ("name" "p.html") NIL NIL'
            b' "7bit" 1 1) "mixed")',
            False,
        ),
        # HTML inside an attached message is that message's, not this one's
        (
            b'(("text" "plain" NIL NIL NIL "7bit" 1 1)("message" "rfc822" NIL NIL NIL "7bit" 9 '
            b'(NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "html" NIL NIL NIL "7bit" 2 1) 3)'
            b' "mixed")',
            False,
        ),
    ],
)
def test_has_html_body_as_opening_chooses_it(structure: bytes, expected: bool) -> None:
    assert has_html_body(parse_bodystructure(tok(structure)[0])) is expected
