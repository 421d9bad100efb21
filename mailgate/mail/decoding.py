"""Incremental content-transfer decoding for parts streamed from IMAP without BINARY."""

from __future__ import annotations

import binascii
import re
from collections.abc import AsyncIterator

__all__ = ["decode_prefix", "decode_stream"]

_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/]")


async def _base64(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    pending = b""
    async for chunk in chunks:
        pending += _NOT_B64.sub(b"", chunk)
        usable = len(pending) - len(pending) % 4
        if usable:
            yield binascii.a2b_base64(pending[:usable])
            pending = pending[usable:]
    if pending:
        # Tolerate missing padding at the very end, as mail clients do.
        pending += b"=" * (-len(pending) % 4)
        try:
            yield binascii.a2b_base64(pending)
        except binascii.Error:
            return


async def _quoted_printable(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    pending = b""
    async for chunk in chunks:
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut >= 0:
            yield binascii.a2b_qp(pending[: cut + 1])
            pending = pending[cut + 1 :]
    if pending:
        yield binascii.a2b_qp(pending)


async def _identity(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk


def decode_stream(chunks: AsyncIterator[bytes], encoding: str | None) -> AsyncIterator[bytes]:
    """Decode a streamed part body by its Content-Transfer-Encoding."""
    encoding = (encoding or "").strip().lower()
    if encoding == "base64":
        return _base64(chunks)
    if encoding == "quoted-printable":
        return _quoted_printable(chunks)
    return _identity(chunks)


def decode_prefix(data: bytes, encoding: str | None) -> bytes:
    """Decode the first bytes of a part (a partial FETCH): an encoded unit cut at the end
    (a base64 quantum, a quoted-printable line) is dropped rather than guessed."""
    encoding = (encoding or "").strip().lower()
    if encoding == "base64":
        usable = _NOT_B64.sub(b"", data)
        try:
            return binascii.a2b_base64(usable[: len(usable) - len(usable) % 4])
        except binascii.Error:
            return b""
    if encoding == "quoted-printable":
        cut = data.rfind(b"\n")
        return binascii.a2b_qp(data[: cut + 1] if cut >= 0 else b"")
    return data
