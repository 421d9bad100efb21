"""GET /api/messages/{id}/headers (issue 17, "show all headers") on pymap and Dovecot, and
the bounds of `header_fields` as a unit."""

from __future__ import annotations

import secrets
from typing import Any

from mailgate.mail.headers import header_fields
from mailgate.mail.ids import decode_message_id, message_id
from mailgate.mail.reading.limits import ReadingLimits
from mailgate.testing.client import ApiClient


def _raw(tag: str) -> bytes:
    return (
        "Received: from relay.example.net by mx.example.test;\r\n"
        "\tSat, 5 Dec 2026 10:00:00 +0000\r\n"
        "Received: from origin.example.org by relay.example.net;\r\n"
        " Sat, 5 Dec 2026 09:59:59 +0000\r\n"
        "From: =?utf-8?q?J=C3=BCrgen_Sender?= <juergen@example.org>\r\n"
        "To: reader@example.test\r\n"
        f"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= {tag}\r\n"
        "Date: Sat, 5 Dec 2026 09:59:00 +0000\r\n"
        f"Message-ID: <{tag}@example.org>\r\n"
        "X-Custom-Thing: kept as written\r\n"
        "\r\n"
        "Body text.\r\n"
    ).encode()


async def _inbox_message(api: ApiClient, subject: str) -> dict[str, Any]:
    boxes = (await api.get("/api/mailboxes")).json()["mailboxes"]
    inbox = next(b["id"] for b in boxes if b["role"] == "inbox")
    listed = (await api.get(f"/api/mailboxes/{inbox}/messages")).json()["messages"]
    return next(m for m in listed if m["subject"] == subject)


async def test_headers_are_listed_in_order_decoded_and_leave_the_message_unread(
    upstream: Any, logged_in: ApiClient, user: tuple[str, str]
) -> None:
    tag = secrets.token_hex(4)
    upstream.deliver(user[0], _raw(tag))
    msg = await _inbox_message(logged_in, f"Grüße {tag}")
    assert msg["seen"] is False
    resp = await logged_in.get(f"/api/messages/{msg['id']}/headers")
    assert resp.status == 200, resp
    body = resp.json()
    assert body["truncated"] is False
    fields = [(f["name"], f["value"]) for f in body["headers"]]
    names = [name for name, _ in fields]
    # In order, repeated fields kept (both servers store the message as delivered).
    assert names == [
        "Received",
        "Received",
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "X-Custom-Thing",
    ]
    values = dict(reversed(fields))
    assert values["Subject"] == f"Grüße {tag}"
    assert values["From"] == "Jürgen Sender <juergen@example.org>"
    assert values["X-Custom-Thing"] == "kept as written"
    received = [v for n, v in fields if n == "Received"]
    assert received[:2] == [
        "from relay.example.net by mx.example.test; Sat, 5 Dec 2026 10:00:00 +0000",
        "from origin.example.org by relay.example.net; Sat, 5 Dec 2026 09:59:59 +0000",
    ]
    assert (await _inbox_message(logged_in, f"Grüße {tag}"))["seen"] is False

    ref = decode_message_id(msg["id"])
    stale = message_id(ref.mailbox, ref.uidvalidity + 1, ref.uid)
    assert (await logged_in.get(f"/api/messages/{stale}/headers")).status == 409
    gone = message_id(ref.mailbox, ref.uidvalidity, ref.uid + 500)
    assert (await logged_in.get(f"/api/messages/{gone}/headers")).status == 404
    assert (await logged_in.get("/api/messages/not-an-id/headers")).status == 404


def test_header_fields_are_bounded_and_printable() -> None:
    block = b"".join(f"X-N{i}: value {i}\r\n".encode() for i in range(50)) + b"\r\n"
    few = header_fields(block, ReadingLimits(header_lines=10))
    assert len(few.fields) == 10 and few.truncated
    assert few.fields[0] == ("X-N0", "value 0")
    short = header_fields(block, ReadingLimits(header_bytes=100))
    assert short.truncated and 0 < len(short.fields) < 10
    assert all(value.startswith("value ") for _, value in short.fields)
    whole = header_fields(block)
    assert len(whole.fields) == 50 and not whole.truncated
    odd = header_fields(b"X-Ctl: a\x07b\r\nX-Long: " + b"y" * 9000 + b"\r\n\r\n")
    assert odd.fields[0] == ("X-Ctl", "a\ufffdb")
    assert odd.fields[1][1].endswith("…") and len(odd.fields[1][1]) == 8001
    assert odd.truncated
    bom = header_fields(b"\xef\xbb\xbfSubject: hi\r\n\r\n")
    assert bom.fields == [("Subject", "hi")]
