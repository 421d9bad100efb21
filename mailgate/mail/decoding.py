"""Incremental content-transfer decoding for parts streamed from IMAP without BINARY."""

from __future__ import annotations

import binascii
import re
from collections.abc import AsyncIterator

__all__ = ["decode_stream"]

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
