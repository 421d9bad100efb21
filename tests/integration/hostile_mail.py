"""Messages built to be expensive to read: the shapes issue 15 names, at the sizes it names.

Shared by tests/integration/test_hostile.py and benchmarks/hostile.py."""

from __future__ import annotations

import base64
from collections.abc import Callable

__all__ = ["HOSTILE"]

_HEAD = (
    b"From: Mallory <mallory@example.test>\r\n"
    b"To: victim@example.test\r\n"
    b"Date: Thu, 04 Dec 2025 10:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
)


def _subject(name: str) -> bytes:
    return f"Subject: hostile {name}\r\n".encode()


def _html(name: str, html: bytes) -> bytes:
    return (
        _HEAD + _subject(name) + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"
    )


def deep_html() -> bytes:
    return _html("deep-html", b"<div>" * 50_000 + b"deep" + b"</div>" * 50_000)


def deep_tables() -> bytes:
    return _html("deep-tables", b"<table><tr><td>" * 5_000 + b"x")


def deep_multipart() -> bytes:
    depth = 3_000
    out = [_HEAD, _subject("deep-multipart")]
    out.append(b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n')
    for level in range(1, depth):
        out.append(
            b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (level - 1, level)
        )
    out.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\nbottom\r\n" % (depth - 1))
    for level in range(depth - 1, -1, -1):
        out.append(b"--b%d--\r\n" % level)
    return b"".join(out)


def many_parts() -> bytes:
    out = [_HEAD, _subject("many-parts"), b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n']
    for i in range(10_000):
        out.append(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i)
    out.append(b"--p--\r\n")
    return b"".join(out)


def many_headers() -> bytes:
    lines = b"".join(b"X-Filler-%d: value %d\r\n" % (i, i) for i in range(20_000))
    return _HEAD + _subject("many-headers") + lines + b"Content-Type: text/plain\r\n\r\nbody\r\n"


def many_encoded_words() -> bytes:
    word = b"=?utf-8?b?" + base64.b64encode("é".encode()) + b"?="
    folded = b"\r\n ".join([word] * 20_000)
    return _HEAD + b"Subject: " + folded + b"\r\nContent-Type: text/plain\r\n\r\nbody\r\n"


def many_recipients() -> bytes:
    to = b",\r\n ".join(b"r%d@example.test" % i for i in range(30_000))
    return (
        b"From: Mallory <mallory@example.test>\r\nTo: "
        + to
        + b"\r\n"
        + _subject("many-recipients")
        + b"Date: Thu, 04 Dec 2025 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    )


def deep_rfc822() -> bytes:
    depth = 500
    inner = b"Subject: innermost\r\nContent-Type: text/plain\r\n\r\nbottom\r\n"
    for level in range(depth):
        inner = b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % level + inner
    return _HEAD + _subject("deep-rfc822") + b"Content-Type: message/rfc822\r\n\r\n" + inner


def long_line_html() -> bytes:
    cell = b'<span style="color:red">word</span> '
    return _html("long-line-html", cell * (3 * 1024 * 1024 // len(cell)))


HOSTILE: dict[str, Callable[[], bytes]] = {
    "deep-html": deep_html,
    "deep-tables": deep_tables,
    "deep-multipart": deep_multipart,
    "many-parts": many_parts,
    "many-headers": many_headers,
    "many-encoded-words": many_encoded_words,
    "many-recipients": many_recipients,
    "deep-rfc822": deep_rfc822,
    "long-line-html": long_line_html,
}
