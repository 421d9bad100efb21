"""parse_message, extract_part and the header/filename helpers."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from mailgate.mail.mime_read import (
    AttachmentInfo,
    extract_part,
    header_text,
    parse_addresses,
    parse_message,
    preview,
    safe_filename,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + b"\x00\xff" * 700


def newsletter() -> bytes:
    """multipart/mixed [ alternative [ plain, related [ html, png ] ], pdf, message/rfc822 ]."""
    msg = EmailMessage()
    msg["From"] = '"Müller, Jörg" <joerg@example.de>'
    msg["To"] = "a@example.com, Bob <b@example.com>"
    msg["Cc"] = "c@example.com"
    msg["Reply-To"] = "replies@example.de"
    msg["Subject"] = "Grüße aus Köln \u2013 10 % Rabatt"
    msg["Date"] = "Tue, 04 Mar 2025 09:15:00 +0100"
    msg["Message-ID"] = "<news-1@example.de>"
    msg["In-Reply-To"] = "<prev@example.de>"
    msg["References"] = "<root@example.de> <prev@example.de>"
    msg.set_content("Hallo Welt, grüße!\n")
    msg.add_alternative(
        '<p>Hallo <img src="cid:logo@example.de"></p>', subtype="html", charset="utf-8"
    )
    msg.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@example.de>")
    msg.add_attachment(PDF, "application", "pdf", filename="Rechnung März.pdf")
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("inner body\n")
    msg.add_attachment(inner)
    return msg.as_bytes()


def test_parse_message_headers_and_bodies() -> None:
    view = parse_message(newsletter())
    assert view.subject == "Grüße aus Köln \u2013 10 % Rabatt"
    assert view.from_ == [{"name": "Müller, Jörg", "email": "joerg@example.de"}]
    assert view.to == [
        {"name": "", "email": "a@example.com"},
        {"name": "Bob", "email": "b@example.com"},
    ]
    assert view.cc == [{"name": "", "email": "c@example.com"}]
    assert view.bcc == []
    assert view.reply_to == [{"name": "", "email": "replies@example.de"}]
    assert view.date == "2025-03-04T09:15:00+01:00"
    assert view.message_id_header == "<news-1@example.de>"
    assert view.in_reply_to == "<prev@example.de>"
    assert view.references == ["<root@example.de>", "<prev@example.de>"]
    assert view.text == "Hallo Welt, grüße!\n"
    assert view.html is not None and 'src="cid:logo@example.de"' in view.html  # raw, unsanitized


def test_sec_imap_section_numbers_for_nested_parts() -> None:
    view = parse_message(newsletter())
    assert [(a.part, a.content_type) for a in view.attachments] == [
        ("1.2.2", "image/png"),
        ("2", "application/pdf"),
        ("3", "message/rfc822"),
    ]
    logo, pdf, forwarded = view.attachments
    assert logo == AttachmentInfo(
        part="1.2.2",
        filename="image.png",
        content_type="image/png",
        size=len(PNG),
        inline=True,
        content_id="logo@example.de",
    )
    assert (pdf.filename, pdf.size, pdf.inline) == ("Rechnung März.pdf", len(PDF), False)
    assert forwarded.filename == "message.eml" and not forwarded.inline


def test_extract_part_returns_the_decoded_bytes() -> None:
    raw = newsletter()
    info, data = extract_part(raw, "1.2.2") or (None, b"")
    assert data == PNG and info is not None and info.size == len(PNG)
    info, data = extract_part(raw, "2") or (None, b"")
    assert data == PDF and info is not None and info.filename == "Rechnung März.pdf"
    info, data = extract_part(raw, "3") or (None, b"")
    assert b"Subject: forwarded" in data and b"inner body" in data
    # The body of the attached message is section 3.1 (RFC 3501), reachable though not listed.
    info, data = extract_part(raw, "3.1") or (None, b"")
    assert data == b"inner body\n"
    assert extract_part(raw, "1.1")[1] == "Hallo Welt, grüße!\n".encode()  # type: ignore[index]


@pytest.mark.parametrize("part", ["0", "4", "1", "1.2", "1.2.3", "9.9", "", "a", "1..2", "-1"])
def test_extract_part_refuses_missing_or_container_sections(part: str) -> None:
    assert extract_part(newsletter(), part) is None


def test_single_part_message_body_is_section_1() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: pdf only\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="x.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    )
    view = parse_message(raw)
    assert view.text is None
    assert [(a.part, a.filename, a.size) for a in view.attachments] == [("1", "x.pdf", 9)]
    assert extract_part(raw, "1") == (view.attachments[0], b"%PDF-1.4\n")


def test_plain_single_part_is_text_not_attachment() -> None:
    raw = b"Subject: hi\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe\r\n"
    view = parse_message(raw)
    assert view.text == "Grüße\n"
    assert view.attachments == []


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("x-unknown-charset", "Grüße".encode(), "Grüße"),  # unknown → utf-8
        ("x-unknown-charset", b"Gr\xfc\xdfe", "Grüße"),  # unknown, not utf-8 → latin-1
        ("us-ascii", "naïve".encode(), "naïve"),  # mislabelled 8-bit utf-8
        ("utf-8", b"ok \xff end", "ok \ufffd end"),  # broken utf-8 keeps the rest
        ("base64", b"plain", "plain"),  # a codec that is not a text encoding
        ("shift_jis", "テスト".encode("cp932"), "テスト"),
    ],
)
def test_body_charsets_degrade_gracefully(charset: str, body: bytes, expected: str) -> None:
    raw = f"Subject: x\r\nContent-Type: text/plain; charset={charset}\r\n\r\n".encode() + body
    assert parse_message(raw).text == expected


def test_multipart_alternative_picks_plain_and_html() -> None:
    raw = (
        b"Subject: alt\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain\r\n"
        b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n"
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b'Content-Disposition: attachment; filename="notes.txt"\r\n\r\nnotes\r\n--b--\r\n'
    )
    view = parse_message(raw)
    assert view.text == "plain"
    assert view.html == "<p>html</p>"
    assert [(a.part, a.filename) for a in view.attachments] == [("3", "notes.txt")]


def test_undecodable_part_is_listed_not_read() -> None:
    raw = (
        b"Subject: bad\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
        b"--q\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64 at all!!!\r\n"
        b'--q\r\nContent-Type: image/gif; name="a.gif"\r\nContent-ID: <A@B>\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--q--\r\n"
    )
    view = parse_message(raw)
    gif = view.attachments[-1]
    assert (gif.part, gif.filename, gif.content_id, gif.size) == ("2", "a.gif", "A@B", 6)
    assert gif.inline is False  # neither disposition inline nor referenced from the html


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02garbage",
        b"Subject: =?utf-8?b?!!!?= \xff\xfe\r\nFrom: <<<>>>,,@@\r\nDate: yesterday\r\n\r\nx",
        b'Content-Type: multipart/mixed; boundary="nope"\r\n\r\nno parts here',
        b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\n",
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
        b'Content-Type: text/plain; charset="\r\n\r\nbody',
        b"Content-Type: text/plain; charset*=bogus''%ff\r\n\r\nbody",
        b"Content-Disposition: attachment; filename*=utf-8''%E0%A4\r\n\r\nbody",
        b"Subject: " + b"=?utf-8?q?a?= " * 5000 + b"\r\n\r\nx",
        # 100 levels of nesting, deeper than the walker descends
        b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
        + b"".join(
            b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
            for i in range(100)
        )
        + b"--b100\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--b100--\r\n",
    ],
)
def test_parse_message_never_raises(raw: bytes) -> None:
    view = parse_message(raw)
    assert isinstance(view.subject, str)
    for info in view.attachments[:10]:
        extracted = extract_part(raw, info.part)
        assert extracted is not None and len(extracted[1]) == info.size


def test_missing_boundary_shows_the_text() -> None:
    raw = b"Subject: x\r\nContent-Type: multipart/alternative\r\n\r\nvisible text\r\n"
    assert parse_message(raw).text == "visible text\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße"),
        ("=?ISO-8859-1?Q?Gr=FC=DFe?= aus =?utf-8?B?S8O2bG4=?=", "Grüße aus Köln"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # whitespace between encoded words dropped
        # a character split across two encoded words
        ("=?utf-8?b?ww==?= =?utf-8?b?vA==?=", "ü"),
        ("=?utf-8?q?=E6=97?= =?utf-8?q?=A5?=", "日"),
        ("=?x-bogus?q?J=F6rg?=", "Jörg"),
        ("=?utf-8*de?q?Stra=C3=9Fe?=", "Straße"),
        ("=?utf-8?b?SsO2cmc?=", "Jörg"),  # missing padding
        ("Gr\udcfc\udcdfe", "Grüße"),  # raw latin-1 bytes, surrogate-escaped by the parser
        ("line\r\n folded", "line folded"),
        ("nul\x00byte", "nul\ufffdbyte"),
        (None, ""),
    ],
)
def test_header_text(value: str | None, expected: str) -> None:
    assert header_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"Doe, John" <j@example.com>', [{"name": "Doe, John", "email": "j@example.com"}]),
        ("=?utf-8?q?Doe=2C_John?= <j@x.io>", [{"name": "Doe, John", "email": "j@x.io"}]),
        (
            "Team: a@x.example, b@x.example;",
            [{"name": "", "email": "a@x.example"}, {"name": "", "email": "b@x.example"}],
        ),
        ("undisclosed-recipients:;", []),
        ("<<<>>> ,, @@", []),
        ("", []),
        (None, []),
    ],
)
def test_parse_addresses(value: str | None, expected: list[dict]) -> None:
    assert parse_addresses(value) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("../../etc/passwd", "text/plain", "passwd"),
        ("..\\..\\x.exe", "application/octet-stream", "x.exe"),
        ("a\x00.html", "text/html", "a.html"),
        ("evil\r\nSet-Cookie: x=1.html", "text/html", "evilSet-Cookie_ x=1.html"),
        ("report\u202egpj.exe", "application/octet-stream", "reportgpj.exe"),
        ("...hidden", "text/plain", "hidden"),
        ('say "hi"?.txt', "text/plain", "say _hi__.txt"),
        ("CON.txt", "text/plain", "_CON.txt"),
        (None, "message/rfc822", "message.eml"),
        ("", "application/pdf", "attachment.pdf"),
        ("  ", "text/plain", "attachment.txt"),
        ("..", "application/x-unknown", "attachment.bin"),
        ("/", "image/png", "image.png"),
    ],
)
def test_safe_filename(name: str | None, content_type: str, expected: str) -> None:
    assert safe_filename(name, content_type) == expected


def test_safe_filename_truncates_keeping_the_extension() -> None:
    result = safe_filename("x" * 1000 + ".pdf", "application/pdf")
    assert len(result) == 200
    assert result.endswith("x.pdf")
    assert len(safe_filename("y" * 1000, "application/pdf")) == 200


def test_preview() -> None:
    assert preview("  Hello\n\n  world\t!  ") == "Hello world !"
    assert preview("\u200c\u034f\u200bHidden preheader\u00ad text") == "Hidden preheader text"
    long = preview("word " * 100, limit=20)
    assert len(long) <= 20 and long.endswith("…")
    assert preview("") == ""
