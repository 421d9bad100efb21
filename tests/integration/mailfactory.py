"""Builders of real-looking test messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["html_message", "plain_message", "with_attachment"]

BASE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def plain_message(
    n: int,
    *,
    subject: str | None = None,
    sender: str = "Bob <bob@example.net>",
    to: str = "user@example.test",
    body: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject or f"Message number {n}"
    msg["Date"] = format_datetime(BASE + timedelta(minutes=n))
    msg["Message-ID"] = f"<msg{n}.{id(msg)}@example.net>"
    msg.set_content(body or f"This is the body of message {n}.\n")
    return msg.as_bytes()


def html_message(html: str, *, subject: str = "Newsletter") -> bytes:
    msg = EmailMessage()
    msg["From"] = "News <news@example.com>"
    msg["To"] = "user@example.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(BASE)
    msg.set_content("plain alternative")
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def with_attachment(
    data: bytes,
    filename: str,
    content_type: str = "application/octet-stream",
    subject: str = "With attachment",
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carol <carol@example.org>"
    msg["To"] = "user@example.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(BASE)
    msg.set_content("See the attachment.\n")
    maintype, subtype = content_type.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
