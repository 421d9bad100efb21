"""Message building: strict addresses, safe headers, repeatable streamed MIME."""

from __future__ import annotations

import asyncio
import itertools
import os
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.errors import BadRequest
from mailgate.mail.compose import (
    FORWARDED_MESSAGE_TYPE,
    MAX_REFERENCES,
    AttachmentNotSevenBit,
    AttachmentSizeMismatch,
    AttachmentSource,
    Draft,
    SevenBitLines,
    base64_length,
    build_message,
    crlf_line_ends,
    kept_threading,
    parse_recipient,
    reply_threading,
    safe_filename,
)

FORBIDDEN = {"user-agent", "x-mailer", "x-originating-ip", "received", "bcc", "sender"}


def _source(
    name: str,
    data: bytes,
    chunk: int = 65536,
    ctype: str = "application/pdf",
    size: int | None = None,
) -> AttachmentSource:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    return AttachmentSource(name, ctype, len(data) if size is None else size, gen)


def _draft(**overrides: Any) -> Draft:
    fields: dict[str, Any] = {
        "from_address": Address("Zoë", addr_spec="zoe@example.test"),
        "to": [parse_recipient("Bob <bob@example.test>", "to")],
        "subject": "Hi",
        "text": "Hello\n",
    }
    fields.update(overrides)
    return Draft(**fields)


def _parse(raw: bytes) -> EmailMessage:
    normalized = raw.replace(b"\r\n", b"\n")
    return BytesParser(policy=policy.default).parsebytes(normalized)  # type: ignore[return-value]


# --- addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name", "spec"),
    [
        ("a@b.example", "", "a@b.example"),
        ("  a@b.example ", "", "a@b.example"),
        ("Bob Smith <bob@example.test>", "Bob Smith", "bob@example.test"),
        ('"Smith, Bob" <bob@example.test>', "Smith, Bob", "bob@example.test"),
        ({"name": "Zoë", "email": "zoe@example.test"}, "Zoë", "zoe@example.test"),
        ({"email": "first.last+tag@sub.example.test"}, "", "first.last+tag@sub.example.test"),
        ("root@localhost", "", "root@localhost"),
        ("x@bücher.example", "", "x@xn--bcher-kva.example"),
    ],
)
def test_parse_recipient_accepts(value: Any, name: str, spec: str) -> None:
    address = parse_recipient(value, "to")
    assert (address.display_name, address.addr_spec) == (name, spec)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "a@b",
        "a b@example.test",
        "a@@example.test",
        "a@example..test",
        ".a@example.test",
        "a.@example.test",
        '"quoted local"@example.test',
        "a@example.test\r\nBcc: x@example.test",
        "a\x00@example.test",
        "a@-example.test",
        "x" * 65 + "@example.test",
        "a@" + "b" * 250 + ".test",
        "Bob <a@example.test>, Eve <e@example.test>",
        "Group: a@example.test;",
        "Bob <a@example.test",
        "Bob\r\n <a@example.test>",
        "ü@example.test",
        {"email": None},
        {"name": 3, "email": "a@example.test"},
        {"name": "Bob\nX-Injected: 1", "email": "a@example.test"},
        {"name": "x" * 300, "email": "a@example.test"},
    ],
)
def test_parse_recipient_refuses_without_echo(value: Any) -> None:
    with pytest.raises(BadRequest) as info:
        parse_recipient(value, "cc")
    assert info.value.message == "The address in 'cc' is not valid."


def test_build_revalidates_hand_made_addresses() -> None:
    with pytest.raises(BadRequest) as info:
        build_message(_draft(bcc=[Address("Eve\u2028X-Injected: 1", "eve", "example.test")]))
    assert "'bcc'" in info.value.message


def test_needs_a_recipient() -> None:
    with pytest.raises(BadRequest):
        build_message(_draft(to=[]))


# --- headers -----------------------------------------------------------------


async def test_headers_are_minimal_and_bcc_only_in_saved_copy() -> None:
    draft = _draft(
        cc=[parse_recipient("carol@example.test", "cc")],
        bcc=[parse_recipient("Dave <dave@example.test>", "bcc")],
        subject="Grüße",
    )
    message = build_message(draft, now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    assert message.recipients == ["bob@example.test", "carol@example.test", "dave@example.test"]
    assert message.envelope_from == "zoe@example.test"
    sent = await message.read_all(include_bcc=False)
    saved = await message.read_all(include_bcc=True)
    sent_msg, saved_msg = _parse(sent), _parse(saved)
    assert sorted(k.lower() for k in sent_msg) == sorted(
        [
            *("from", "to", "cc", "subject", "date", "message-id", "mime-version"),
            *("content-type", "content-transfer-encoding"),
        ]
    )
    assert not FORBIDDEN & {k.lower() for k in sent_msg}
    assert b"dave" not in sent.lower()
    assert saved_msg["Bcc"].addresses[0].addr_spec == "dave@example.test"
    # The saved copy is the sent message plus one Bcc line, nothing else.
    bcc_line = b"Bcc: Dave <dave@example.test>\r\n"
    assert bcc_line in saved and saved.replace(bcc_line, b"") == sent
    assert sent_msg["Subject"] == "Grüße"
    assert b"=?utf-8?" in sent.split(b"\r\n\r\n")[0]  # encoded word, not raw UTF-8
    assert sent.isascii()
    assert sent_msg["Date"] == "Wed, 01 May 2024 12:00:00 +0000"
    assert sent_msg["Message-ID"] == message.message_id
    assert message.message_id.endswith("@example.test>")
    assert all(len(line) <= 998 for line in sent.split(b"\r\n"))


@pytest.mark.parametrize("subject", ["a\rb", "a\nb", "a\x00b", "a\x85b", "a\u2029b", "x" * 999])
def test_subject_must_be_one_safe_line(subject: str) -> None:
    with pytest.raises(BadRequest):
        build_message(_draft(subject=subject))


def test_text_may_not_contain_nul() -> None:
    with pytest.raises(BadRequest):
        build_message(_draft(text="a\x00b"))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("a\r\nX-Injected: 1.txt", "aX-Injected: 1.txt"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\secret.doc", "secret.doc"),
        (".hidden", "hidden"),
        ("\x00\r\n", "attachment"),
        ("", "attachment"),
    ],
)
def test_safe_filename(raw: str, clean: str) -> None:
    assert safe_filename(raw) == clean


async def test_filename_and_content_type_cannot_add_headers() -> None:
    draft = _draft(
        attachments=[
            _source('a"; x=1\r\nX-Injected: 1.txt', b"abc", ctype="text/plain\r\nX-Injected: 1"),
            # message/* and multipart/* may not be base64 (message/rfc822 itself goes
            # verbatim when checked 7-bit clean: see the tests at the end).
            _source("m.eml", b"abc", ctype="message/partial"),
        ]
    )
    raw = await build_message(draft).read_all(include_bcc=False)
    parsed = _parse(raw)
    for part in parsed.walk():
        assert "x-injected" not in {k.lower() for k in part}
    first, second = parsed.iter_attachments()
    assert first.get_filename() == 'a"; x=1X-Injected: 1.txt'
    assert first.get_content_type() == "application/octet-stream"
    assert second.get_content_type() == "application/octet-stream"
    assert first.get_content() == b"abc"


# --- threading ---------------------------------------------------------------


def test_reply_threading_appends_parent_and_caps() -> None:
    refs = " ".join(f"<r{i}@example.test>" for i in range(40))
    in_reply_to, references = reply_threading("<parent@example.test>", refs)
    assert in_reply_to == "<parent@example.test>"
    assert len(references) == MAX_REFERENCES
    assert references[0] == "<r0@example.test>"
    assert references[-1] == "<parent@example.test>"
    assert references[-2] == "<r39@example.test>"
    assert reply_threading("not an id", None) == (None, [])
    assert reply_threading("<p@x>", "<bad id> <ok@x>") == ("<p@x>", ["<ok@x>", "<p@x>"])


def test_kept_threading_keeps_a_drafts_ids_as_they_were_cut_to_what_is_sent() -> None:
    refs = [f"<r{i}@example.test>" for i in range(30)]
    in_reply_to, references = kept_threading(" <p@x> ", [refs[0], "bad\r\nX: 1", *refs[1:]])
    assert in_reply_to == "<p@x>"  # not appended to References: kept as the draft had it
    assert references == [refs[0], *refs[-(MAX_REFERENCES - 1) :]]
    assert kept_threading("not an id", []) == (None, [])
    assert kept_threading(None, ["<a@x>", "<b@x>"]) == (None, ["<a@x>", "<b@x>"])


async def test_long_message_ids_are_folded_not_encoded() -> None:
    long_id = "<" + "A1b2" * 25 + "@eur01.prod.exchangelabs.example>"
    draft = _draft(in_reply_to=long_id, references=["<root@x.test>", long_id, "bad\r\nX: 1"])
    raw = await build_message(draft).read_all(include_bcc=False)
    head = raw.split(b"\r\n\r\n")[0]
    ids = head[head.index(b"In-Reply-To:") : head.index(b"MIME-Version:")]
    assert b"=?" not in ids
    assert b"References: <root@x.test>\r\n " + long_id.encode() + b"\r\n" in head
    parsed = _parse(raw)
    assert parsed["In-Reply-To"] == long_id
    assert parsed["References"].split() == ["<root@x.test>", long_id]


# --- structure and streaming -------------------------------------------------


async def test_text_only_is_single_part() -> None:
    raw = await build_message(_draft()).read_all(include_bcc=False)
    parsed = _parse(raw)
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content() == "Hello\n"


async def test_text_and_html_is_alternative_inside_mixed() -> None:
    draft = _draft(html="<p>Hi</p>", attachments=[_source("a.bin", b"\x00\xff")])
    parsed = _parse(await build_message(draft).read_all(include_bcc=False))
    assert parsed.get_content_type() == "multipart/mixed"
    body, attachment = parsed.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content() == b"\x00\xff"
    assert "MIME-Version" not in attachment  # only on the top level


@pytest.mark.parametrize(
    ("size", "chunk"),
    [
        (size, chunk)
        for size in (0, 1, 2, 3, 56, 57, 58, 114, 1000, 70_000)
        for chunk in (1, 7, 57, 1000, 65536)
        if not (chunk == 1 and size > 1000)  # byte-by-byte over 70 kB: slow, nothing new
    ],
)
async def test_length_matches_stream_and_round_trips(size: int, chunk: int) -> None:
    data = os.urandom(size)
    draft = _draft(
        text="Ünïcödé text\n" + "long line " * 20 + "\n.\n",
        html="<p>Grüße</p>",
        attachments=[_source("é.bin", data, chunk), _source("b.txt", b"tail", chunk)],
    )
    message = build_message(draft)
    for include_bcc in (False, True):
        pieces = [c async for c in message.chunks(include_bcc=include_bcc)]
        raw = b"".join(pieces)
        assert len(raw) == message.length(include_bcc)
        assert raw == await message.read_all(include_bcc=include_bcc)  # repeatable
        assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
        assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
        parsed = _parse(raw)
        assert parsed.get_body(("plain",)).get_content() == draft.text
        assert parsed.get_body(("html",)).get_content() == "<p>Grüße</p>\n"
        got = [(a.get_filename(), a.get_content()) for a in parsed.iter_attachments()]
        assert got == [("é.bin", data), ("b.txt", b"tail")]


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=6))
async def test_base64_stream_any_chunking(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]

    async def gen() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    message = build_message(
        _draft(attachments=[AttachmentSource("x", "application/x-test", len(data), gen)])
    )
    raw = await message.read_all(include_bcc=False)
    assert len(raw) == message.length(False)
    (attachment,) = _parse(raw).iter_attachments()
    assert attachment.get_content() == data


def test_base64_length_formula() -> None:
    import base64

    for n in range(0, 400):
        assert base64_length(n) == len(base64.encodebytes(os.urandom(n)).replace(b"\n", b"\r\n"))


@pytest.mark.parametrize("declared", [9, 11])
async def test_size_mismatch_is_an_error(declared: int) -> None:
    message = build_message(_draft(attachments=[_source("a", b"0123456789", 4, size=declared)]))
    with pytest.raises(AttachmentSizeMismatch):
        await message.read_all(include_bcc=False)


async def test_streaming_5mb_keeps_memory_bounded() -> None:
    size = 5 * 1024 * 1024
    seed = os.urandom(65536)

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(size // len(seed)):
            yield seed

    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        message = build_message(
            _draft(attachments=[AttachmentSource("b", "application/x-test", size, gen)])
        )
        total = 0
        async for chunk in message.chunks(include_bcc=False):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == message.length(False) > size
    assert peak - base < 16 * 1024 * 1024
    assert peak - base < 2 * 1024 * 1024  # in practice a few windows, not the file


# --- identities, receipts, priority, inline images (issue 18) -------------------------


async def test_reply_to_receipt_request_and_priority_headers() -> None:
    built = build_message(
        _draft(
            reply_to=Address(addr_spec="replies@example.test"),
            request_receipt=True,
            priority="low",
        )
    )
    msg = _parse(await built.read_all(include_bcc=False))
    assert msg["Reply-To"].addresses[0].addr_spec == "replies@example.test"
    assert str(msg["Disposition-Notification-To"]) == "<zoe@example.test>"
    assert (str(msg["X-Priority"]), str(msg["Importance"])) == ("5 (Lowest)", "low")
    plain = _parse(await build_message(_draft()).read_all(include_bcc=False))
    for name in ("Reply-To", "Disposition-Notification-To", "X-Priority", "Importance"):
        assert plain[name] is None, name


async def test_inline_images_are_related_parts_and_the_length_is_exact() -> None:
    picture = os.urandom(70_000)
    built = build_message(
        _draft(
            html='<p>x<img src="cid:img.1@example.test"></p>',
            inline_images=[("img.1@example.test", _source("p.png", picture, 999, "image/png"))],
            attachments=[_source("a.pdf", b"%PDF-1.4 x", 3)],
        )
    )
    raw = await built.read_all(include_bcc=False)
    assert len(raw) == built.length(False)
    msg = _parse(raw)
    kinds = [p.get_content_type() for p in msg.walk()]
    assert kinds == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "application/pdf",
    ]
    image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert str(image["Content-ID"]) == "<img.1@example.test>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == picture


async def test_the_mdn_is_a_disposition_notification_report() -> None:
    from mailgate.mail.receipts import build_mdn

    built = build_mdn(
        sender=Address(addr_spec="zoe@example.test"),
        to=Address(addr_spec="asker@example.net"),
        original_message_id="<orig@example.net>",
        original_subject="Hello\r\n again",
        original_date="Mon, 02 Nov 2026 10:00:00 +0000",
    )
    assert built.recipients == ["asker@example.net"]
    assert built.envelope_from == "zoe@example.test"
    msg = _parse(await built.read_all(include_bcc=False))
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "disposition-notification"
    assert str(msg["Subject"]) == "Read: Hello again"
    human, report = list(msg.iter_parts())
    assert "Hello again" in human.get_content()
    assert report.get_content_type() == "message/disposition-notification"
    raw = (await built.read_all(include_bcc=False)).decode("ascii")
    assert "Original-Message-ID: <orig@example.net>\r\n" in raw
    assert "Disposition: manual-action/MDN-sent-manually; displayed\r\n" in raw


# -- a message attached whole (forward as attachment) ------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
@pytest.mark.parametrize(
    ("data", "clean"),
    [
        (b"Subject: a\r\n\r\nbody\r\n", True),
        (b"x" * 998 + b"\r\nok\r\n", True),
        (b"x" * 999 + b"\r\n", False),
        (b"a\nb\r\n", False),
        (b"a\rb\r\n", False),
        (b"a\r", False),
        ("Grüße\r\n".encode(), False),
        (b"a\x00b\r\n", False),
    ],
)
def test_seven_bit_lines_in_any_chunking(data: bytes, clean: bool, size: int) -> None:
    check = SevenBitLines()
    fed = all([check.feed(data[i : i + size]) for i in range(0, len(data), size)])
    assert (fed and check.end()) is clean


@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_crlf_line_ends_makes_every_bare_lf_crlf(size: int) -> None:
    data = b"a\nb\r\nc\n\n\r\n\rx\n"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]

    async def run() -> bytes:
        return b"".join([c async for c in crlf_line_ends(chunks())])

    assert asyncio.run(run()) == b"a\r\nb\r\nc\r\n\r\n\r\n\rx\r\n"


def test_an_attached_message_goes_out_verbatim_as_message_rfc822() -> None:
    original = b"From: a@example.net\r\nSubject: hi\r\n\r\nbody\r\n"

    async def chunks() -> AsyncIterator[bytes]:
        yield original

    draft = Draft(
        from_address=Address(addr_spec="me@example.org"),
        to=[Address(addr_spec="you@example.org")],
        text="see below",
        attachments=[AttachmentSource("hi.eml", FORWARDED_MESSAGE_TYPE, len(original), chunks)],
    )
    built = build_message(draft)
    raw = asyncio.run(built.read_all(include_bcc=False))
    assert len(raw) == built.length(False)
    assert b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n" in raw
    assert b"\r\n\r\n" + original + b"\r\n--" in raw


async def test_an_attached_message_that_is_not_7bit_fails_before_the_end() -> None:
    bad = b"Subject: x\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n"

    async def chunks() -> AsyncIterator[bytes]:
        yield bad

    draft = _draft(
        attachments=[AttachmentSource("x.eml", FORWARDED_MESSAGE_TYPE, len(bad), chunks)]
    )
    with pytest.raises(AttachmentNotSevenBit):
        await build_message(draft).read_all(include_bcc=False)
