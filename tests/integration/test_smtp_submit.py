"""SMTP submission against real aiosmtpd servers (and a scripted one) on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import tracemalloc
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import trustme

from mailgate.errors import (
    AuthFailed,
    BadRequest,
    UpstreamRejected,
    UpstreamTlsFailed,
    UpstreamUnavailable,
)
from mailgate.mail.compose import (
    AttachmentSource,
    BuiltMessage,
    Draft,
    build_message,
    parse_recipient,
    reply_threading,
)
from mailgate.mail.smtp import DotStuffer, sanitize_reply, submit

from .smtp_servers import (
    PASSWORD,
    USER,
    ScriptedSmtpServer,
    client_context,
    run_smtp_server,
)

FORBIDDEN_HEADERS = {
    "user-agent",
    "x-mailer",
    "x-originating-ip",
    "received",
    "x-forwarded-for",
    "x-client-ip",
    "x-sender-ip",
    "x-bcc",
    "bcc",
    "x-injected",
    "sender",
    "organization",
}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _source(
    name: str, data: bytes, content_type: str = "application/octet-stream", chunk: int = 65536
) -> AttachmentSource:
    async def gen() -> AsyncIterator[bytes]:
        for i in range(0, len(data), chunk):
            yield data[i : i + chunk]

    return AttachmentSource(name, content_type, len(data), gen)


def _draft(**overrides: Any) -> Draft:
    fields: dict[str, Any] = {
        "from_address": parse_recipient({"name": "Alice Ünicode", "email": USER}, "from"),
        "to": [parse_recipient("Bob <bob@example.test>", "to")],
        "cc": [parse_recipient("carol@example.test", "cc")],
        "bcc": [parse_recipient("dave@example.test", "bcc")],
        "subject": "Quarterly numbers \u2013 résumé",
        "text": "Hello Bob,\n\nsee attached.\n",
        "html": "<p>Hello <b>Bob</b>,</p><p>see attached.</p>",
    }
    fields.update(overrides)
    return Draft(**fields)


async def _submit(
    message: BuiltMessage,
    server: Any,
    ca: trustme.CA,
    *,
    security: str = "tls",
    password: str = PASSWORD,
    context: ssl.SSLContext | None = None,
) -> None:
    await submit(
        message,
        envelope_from=message.envelope_from,
        recipients=message.recipients,
        host=server.host,
        port=server.port,
        security=security,  # type: ignore[arg-type]
        ssl_context=context or client_context(ca),
        username=USER,
        password=password,
        timeout=10,
    )


def _parse(raw: bytes) -> EmailMessage:
    # The parser keeps CRLF inside bodies; compare text with Python newlines.
    normalized = raw.replace(b"\r\n", b"\n")
    return BytesParser(policy=policy.default).parsebytes(normalized)  # type: ignore[return-value]


def _assert_no_auth(raw: bytes) -> None:
    assert b"AUTH" not in raw.upper()
    assert PASSWORD.encode() not in raw
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode())
    assert plain not in raw


async def test_implicit_tls_delivers_message_intact(ca: trustme.CA) -> None:
    blob = os.urandom(70_001)
    pdf = b"%PDF-1.4\n" + os.urandom(3000)
    draft = _draft(
        attachments=[
            _source("Résumé \u2013 2024.pdf", pdf, "application/pdf", chunk=1000),
            _source("data.bin", blob, chunk=4097),
        ]
    )
    message = build_message(draft)
    with run_smtp_server("tls", ca) as server:
        await _submit(message, server, ca)
    (received,) = server.recorder.messages
    assert received.mail_from == USER
    assert received.rcpt_tos == ["bob@example.test", "carol@example.test", "dave@example.test"]
    # Byte for byte what was built, without the Bcc header.
    assert received.content == await message.read_all(include_bcc=False)
    parsed = _parse(received.content)
    names = [k.lower() for k in parsed]
    assert sorted(names) == sorted(
        ["from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type"]
    )
    assert not FORBIDDEN_HEADERS & set(names)
    assert b"dave@example.test" not in received.content
    assert b"mailgate" not in received.content.lower()
    assert parsed["Subject"] == "Quarterly numbers \u2013 résumé"
    assert parsed["From"].addresses[0].display_name == "Alice Ünicode"
    assert parsed["Message-ID"] == message.message_id
    assert message.message_id.endswith("@example.test>")
    assert parsed.get_body(("plain",)).get_content() == "Hello Bob,\n\nsee attached.\n"
    assert "<b>Bob</b>" in parsed.get_body(("html",)).get_content()
    attachments = list(parsed.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Résumé \u2013 2024.pdf", "data.bin"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == pdf
    assert attachments[1].get_content() == blob
    raw_disposition = received.content.split(b"Content-Disposition: attachment;", 1)[1][:80]
    assert b"filename*=utf-8''R%C3%A9sum%C3%A9" in raw_disposition  # RFC 2231


async def test_starttls_delivers_and_greets_again_over_tls(ca: trustme.CA) -> None:
    message = build_message(_draft(bcc=[]))
    with run_smtp_server("starttls", ca) as server:
        await _submit(message, server, ca, security="starttls")
    commands = server.recorder.commands()
    # SEC-42: EHLO again after the upgrade, AUTH only after that.
    assert commands[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]
    assert commands[-1] == "QUIT"
    assert len(server.recorder.messages) == 1


async def test_sec_42_injected_reply_after_starttls_is_discarded(ca: trustme.CA) -> None:
    message = build_message(_draft())
    async with ScriptedSmtpServer(ca, inject=True) as server:
        await _submit(message, server, ca, security="starttls")
    # Had "250 INJECTED" been taken as the EHLO reply, no AUTH would be offered
    # and the send would fail; the client also greeted again over TLS.
    assert server.commands_after_tls[:2] == ["EHLO", "AUTH"]
    assert server.content is not None
    assert _parse(server.content)["Subject"] == "Quarterly numbers \u2013 résumé"


async def test_sec_37_untrusted_certificate_fails_before_auth(ca: trustme.CA) -> None:
    message = build_message(_draft())
    with run_smtp_server("tls", trustme.CA()) as server, pytest.raises(UpstreamTlsFailed):
        await _submit(message, server, ca)
    _assert_no_auth(bytes(server.recorder.raw))
    assert server.recorder.raw == bytearray()
    assert server.recorder.messages == []


async def test_sec_37_untrusted_certificate_on_starttls_fails_before_auth(
    ca: trustme.CA,
) -> None:
    with run_smtp_server("starttls", trustme.CA()) as server, pytest.raises(UpstreamTlsFailed):
        await _submit(build_message(_draft()), server, ca, security="starttls")
    _assert_no_auth(bytes(server.recorder.raw))
    assert server.recorder.commands() == ["EHLO", "STARTTLS"]


async def test_sec_38_certificate_for_another_host_fails(ca: trustme.CA) -> None:
    other = run_smtp_server("tls", ca, cert_name="mail.other.test")
    with other as server, pytest.raises(UpstreamTlsFailed):
        await _submit(build_message(_draft()), server, ca)
    assert server.recorder.raw == bytearray()


async def test_sec_37_non_verifying_context_is_refused(ca: trustme.CA) -> None:
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with run_smtp_server("tls", ca) as server, pytest.raises(ValueError):
        await _submit(build_message(_draft()), server, ca, context=lax)
    assert server.recorder.connections == 0


async def test_sec_41_starttls_not_offered_aborts_before_auth(ca: trustme.CA) -> None:
    with run_smtp_server("plain", ca) as server, pytest.raises(UpstreamTlsFailed):
        await _submit(build_message(_draft()), server, ca, security="starttls")
    _assert_no_auth(bytes(server.recorder.raw))
    assert server.recorder.commands() == ["EHLO"]
    assert server.recorder.messages == []


async def test_sec_41_starttls_454_aborts_before_auth(ca: trustme.CA) -> None:
    with run_smtp_server("starttls_454", ca) as server, pytest.raises(UpstreamTlsFailed):
        await _submit(build_message(_draft()), server, ca, security="starttls")
    _assert_no_auth(bytes(server.recorder.raw))
    assert server.recorder.commands() == ["EHLO", "STARTTLS"]


async def test_sec_40_plaintext_only_server_is_refused(ca: trustme.CA) -> None:
    with run_smtp_server("plain", ca) as server:
        with pytest.raises(UpstreamTlsFailed):
            await _submit(build_message(_draft()), server, ca, security="tls")
        with pytest.raises(ValueError):
            await _submit(build_message(_draft()), server, ca, security="plain")
    _assert_no_auth(bytes(server.recorder.raw))
    assert server.recorder.messages == []
    assert server.recorder.connections <= 1  # the "plain" attempt never opened a socket


async def test_refused_recipient_is_reported_and_nothing_is_sent(ca: trustme.CA) -> None:
    message = build_message(_draft())
    refusing = run_smtp_server("tls", ca, refuse=("carol@example.test",))
    with refusing as server, pytest.raises(UpstreamRejected) as info:
        await _submit(message, server, ca)
    assert info.value.smtp_code == 550
    assert info.value.refused_indexes == [1]
    assert "550" in info.value.message
    assert "Recipient address rejected" in info.value.message
    assert "carol" not in info.value.message  # the echoed address is masked
    assert "\t" not in info.value.message
    assert server.recorder.messages == []
    commands = server.recorder.commands()
    assert "DATA" not in commands
    assert "RSET" in commands


async def test_smtp_down_is_unavailable(ca: trustme.CA) -> None:
    from .smtp_servers import _free_port

    server = type("S", (), {"host": "localhost", "port": _free_port()})()
    with pytest.raises(UpstreamUnavailable):
        await _submit(build_message(_draft()), server, ca)


async def test_wrong_password_is_auth_failed(ca: trustme.CA) -> None:
    with run_smtp_server("tls", ca) as server, pytest.raises(AuthFailed):
        await _submit(build_message(_draft()), server, ca, password="wrong")
    assert server.recorder.commands().count("AUTH") == 1  # one attempt, not three
    assert server.recorder.messages == []


async def test_reply_threading_headers_arrive(ca: trustme.CA) -> None:
    in_reply_to, references = reply_threading("<parent@example.test>", "<root@example.test>")
    message = build_message(_draft(in_reply_to=in_reply_to, references=references))
    with run_smtp_server("tls", ca) as server:
        await _submit(message, server, ca)
    parsed = _parse(server.recorder.messages[0].content)
    assert parsed["In-Reply-To"] == "<parent@example.test>"
    assert parsed["References"].split() == ["<root@example.test>", "<parent@example.test>"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hi\r\nBcc: eve@evil.test"},
        {"subject": "Hi\nX-Injected: 1"},
        {"subject": "Hi\u2028X-Injected: 1"},
    ],
)
def test_sec_65_subject_injection_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        build_message(_draft(**overrides))


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"name": "Bob\r\nBcc: eve@evil.test", "email": "bob@example.test"}, "to"),
        ("Bob\r\nX-Injected: 1 <bob@example.test>", "cc"),
        ("=?utf-8?q?Bob=0D=0AX-Injected:_1?= <bob@example.test>", "to"),
        ("bob@example.test\r\nX-Injected: 1", "to"),
        ({"email": "bob@example.test>\r\nRCPT TO:<eve@evil.test"}, "bcc"),
        ("bob@example.test, eve@evil.test", "to"),
    ],
)
def test_sec_65_address_injection_is_refused(value: Any, field: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_recipient(value, field)
    assert info.value.message == f"The address in '{field}' is not valid."


async def test_sec_65_nothing_user_typed_adds_a_header(ca: trustme.CA) -> None:
    draft = _draft(
        to=[
            parse_recipient({"name": 'Bob "X-Injected: 1", Jr.', "email": "bob@example.test"}, "to")
        ],
        subject="X-Injected: 1 Bcc: eve@evil.test",
        attachments=[_source("evil\r\nX-Injected: 1\r\nBcc: eve@evil.test.txt", b"hi\n")],
    )
    message = build_message(draft)
    with run_smtp_server("tls", ca) as server:
        await _submit(message, server, ca)
    (received,) = server.recorder.messages
    assert received.rcpt_tos == ["bob@example.test", "carol@example.test", "dave@example.test"]
    parsed = _parse(received.content)
    assert sorted(k.lower() for k in parsed) == sorted(
        ["from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type"]
    )
    assert parsed["To"].addresses[0].display_name == 'Bob "X-Injected: 1", Jr.'
    assert parsed["Subject"] == "X-Injected: 1 Bcc: eve@evil.test"
    for part in parsed.walk():
        assert not {"x-injected", "bcc"} & {k.lower() for k in part}
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_filename() == "evilX-Injected: 1Bcc: eve@evil.test.txt"
    assert b"\r\nX-Injected" not in received.content
    assert b"\r\nBcc" not in received.content


async def test_dot_lines_arrive_intact(ca: trustme.CA) -> None:
    text = ".\n..\n.hidden\nnormal\n. space\n.\n"
    message = build_message(_draft(text=text, html=None, bcc=[]))
    with run_smtp_server("tls", ca) as server:
        await _submit(message, server, ca)
    parsed = _parse(server.recorder.messages[0].content)
    assert parsed.get_body(("plain",)).get_content() == text


@pytest.mark.parametrize(
    "stream",
    [
        b".\r\n",
        b"a\r\n.\r\n..\r\n.b\r\nc.\r\n",
        b"x\r\n.",
        b"\r\n.\r\n.\r\n",
    ],
)
def test_dot_stuffing_is_right_across_every_chunk_boundary(stream: bytes) -> None:
    expected = b"".join(
        (b"." + line if line.startswith(b".") else line)
        for line in stream.splitlines(keepends=True)
    )
    expected += b".\r\n" if stream.endswith(b"\n") else b"\r\n.\r\n"
    for cut in range(len(stream) + 1):
        for cut2 in range(cut, len(stream) + 1):
            stuffer = DotStuffer()
            pieces = [stream[:cut], stream[cut:cut2], stream[cut2:]]
            out = b"".join(stuffer.feed(p) for p in pieces) + stuffer.finish()
            assert out == expected, (cut, cut2)


def test_sanitize_reply_is_one_safe_line() -> None:
    reply = "<bob@example.test>: Recipient\r\nrejected\x1b[31m " + "x" * 500
    clean = sanitize_reply(reply)
    assert len(clean) <= 200
    assert "bob" not in clean and "\n" not in clean and "\x1b" not in clean
    assert clean.startswith("<address>: Recipient rejected")


async def test_streaming_5mb_attachment_keeps_memory_bounded(ca: trustme.CA) -> None:
    size = 5 * 1024 * 1024
    seed = os.urandom(65536)

    async def gen() -> AsyncIterator[bytes]:
        # Generated on the fly so the source itself holds no 5 MB buffer.
        for _ in range(size // len(seed)):
            yield seed

    draft = _draft(attachments=[AttachmentSource("big.bin", "application/octet-stream", size, gen)])
    async with ScriptedSmtpServer(ca, implicit=True, sink=True) as server:
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            message = build_message(draft)
            await _submit(message, server, ca)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak - base < 16 * 1024 * 1024, peak - base
    digest = hashlib.sha256()
    length = 0
    async for chunk in message.chunks(include_bcc=False):
        # The server hashes lines as received (CRLF kept), the same bytes.
        digest.update(chunk)
        length += len(chunk)
    assert server.data_length == length == message.length(False)
    assert server.data_sha256 == digest.hexdigest()
